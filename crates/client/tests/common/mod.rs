//! What the client's test servers share: the test certificate's TLS
//! acceptor, and an echo driven through a client duplex.
#![allow(dead_code)] // each test file uses part of it

use std::sync::Arc;

use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const CERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../support/certs/");

pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{CERTS}{name}")).unwrap()
}

/// A TLS acceptor with the test certificate, offering `alpn`.
pub fn tls_acceptor(alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
    let certs: Vec<CertificateDer> = CertificateDer::pem_slice_iter(&read("cert.pem"))
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_slice(&read("key.pem")).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Writes `data` in 100 kB writes, ends, and reads the echo to the end.
pub async fn echo(duplex: &http2_duplex_client::Duplex, data: &[u8]) -> Vec<u8> {
    let writer = duplex.clone();
    let sent = data.to_vec();
    let write = tokio::spawn(async move {
        for chunk in sent.chunks(100_000) {
            writer.write(Bytes::copy_from_slice(chunk)).await.unwrap();
        }
        writer.end().await.unwrap();
    });
    let mut got = Vec::new();
    while let Some(chunk) = duplex.read().await.unwrap() {
        got.extend_from_slice(&chunk);
    }
    write.await.unwrap();
    got
}
