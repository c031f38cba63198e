//! rustls client configuration: ring provider, ALPN h2, `ca` replacing the
//! default roots (as Node's `ca` option does), `reject_unauthorized: false`
//! accepting any certificate (handshake signatures are still checked).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::pool::Target;
use crate::{Error, Options};

/// TCP to the target, Nagle off: the first step of every connection.
pub(crate) async fn tcp(target: &Target) -> Result<TcpStream, Error> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| Error::Connect {
            authority: target.authority(),
            reason: e.to_string(),
        })?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// TLS over `tcp` to the target, offering `alpn`; the handshake's own error
/// is the caller's to name.
pub(crate) async fn handshake(
    target: &Target,
    tcp: TcpStream,
    options: &Options,
    alpn: &[u8],
) -> Result<TlsStream<TcpStream>, HandshakeError> {
    let mut config = config(options.ca.as_deref(), options.reject_unauthorized)
        .map_err(HandshakeError::Setup)?;
    config.alpn_protocols = vec![alpn.to_vec()];
    let name = ServerName::try_from(target.host.clone()).map_err(|e| {
        HandshakeError::Setup(Error::InvalidUrl(format!(
            "{}: bad server name: {e}",
            target.host
        )))
    })?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(HandshakeError::Tls)
}

/// Why [`handshake`] failed.
pub(crate) enum HandshakeError {
    /// Before anything was sent: the options or the name.
    Setup(Error),
    /// The TLS handshake itself.
    Tls(std::io::Error),
}

pub(crate) fn config(ca: Option<&[u8]>, reject_unauthorized: bool) -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls {
            authority: String::new(),
            reason: e.to_string(),
        })?;
    let mut config = if reject_unauthorized {
        let mut roots = RootCertStore::empty();
        match ca {
            Some(pem) => {
                let mut count = 0;
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| Error::InvalidCa(e.to_string()))?;
                    roots
                        .add(cert)
                        .map_err(|e| Error::InvalidCa(e.to_string()))?;
                    count += 1;
                }
                if count == 0 {
                    return Err(Error::InvalidCa("no PEM certificate found".into()));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
