//! http2-duplex.2 over the streaming transport: a *tunnel* (docs/protocol.md
//! "Resume on the fetch paths: a WebSocket tunnel"). Its carrier is a GET
//! asking for one (`http2-duplex-tunnel: http2-duplex.2`) and the duplex's
//! streaming POST; their bytes are the WebSocket's frames after its
//! handshake, so the resumable WebSocket duplex (crate::resume) runs over
//! them unchanged: the POST body is its [`Outlet`], the DATA frames of the
//! GET body its [`Inlet`].

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use h2::client::ResponseFuture;
use h2::RecvStream;
use http::HeaderMap;
use http2_duplex_core::protocol::header::TUNNEL as HEADER_TUNNEL;
use http2_duplex_core::protocol::websocket::RESUME_SUBPROTOCOL;

use crate::duplex::{self, answer_framed, answer_id, status_error, BodyDecoder, StreamingDuplex};
use crate::pool::{Conn, Target};
use crate::ws::{Inlet, Opened, Outlet};
use crate::Error;

const CARRIER_GET: &str = "tunnel's GET";
const CARRIER_POST: &str = "tunnel's POST";

/// What a GET asking for a tunnel opened.
pub(crate) enum Carried {
    /// The server answered with the tunnel: a resumable WebSocket's sides.
    Tunnel(Opened),
    /// The server answered without it (resume off, a 6.x server): a plain
    /// streaming duplex.
    Plain(StreamingDuplex),
}

/// The server's side of a tunnel: the payloads of its GET body's DATA
/// frames, and the POST's answer (a POST that fails fails the tunnel).
pub(crate) struct TunnelInlet {
    body: RecvStream,
    decode: BodyDecoder,
    /// Pieces decoded and not yet handed out.
    ready: VecDeque<Bytes>,
    /// The END frame came: nothing after `ready`.
    ended: bool,
    /// `None` once the server answered the POST with a success (it took
    /// the ended body).
    post_answer: Option<ResponseFuture>,
    conn: Arc<Conn>,
}

impl TunnelInlet {
    /// The next piece of the server's WebSocket bytes; `None` once the GET
    /// ended.
    pub(crate) async fn data(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            if let Some(piece) = self.ready.pop_front() {
                return Ok(Some(piece));
            }
            if self.ended {
                return Ok(None);
            }
            let TunnelInlet {
                body, post_answer, ..
            } = self;
            let chunk = tokio::select! {
                chunk = body.data() => chunk,
                answer = async { post_answer.as_mut().expect("checked").await },
                    if post_answer.is_some() => {
                    *post_answer = None;
                    match answer {
                        Ok(response) if response.status().is_success() => continue,
                        Ok(response) => return Err(status_error(&response)),
                        Err(e) => return Err(Error::from_h2_on(e, CARRIER_POST)),
                    }
                }
            };
            match chunk {
                // The WebSocket's credit bounds what the server may send:
                // the capacity goes back at once.
                Some(Ok(chunk)) => {
                    let _ = body.flow_control().release_capacity(chunk.len());
                    let mut pieces = Vec::new();
                    self.ended = self.decode.take_chunk(chunk, &mut pieces);
                    self.ready.extend(pieces);
                }
                None => self.ended = true,
                Some(Err(e)) if Error::is_no_error_reset(&e) => self.ended = true,
                Some(Err(e)) => return Err(Error::from_h2_on(e, CARRIER_GET)),
            }
        }
    }

    /// Waits for the server's answer to the POST, if it is still due.
    pub(crate) async fn answered(&mut self) {
        if let Some(answer) = self.post_answer.take() {
            let _ = answer.await;
        }
    }

    /// The HTTP/2 connection the carrier is on.
    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

/// Opens a duplex over a carrier whose GET asks for a tunnel.
pub(crate) async fn open(
    target: &Target,
    extra: &HeaderMap,
    conn: Arc<Conn>,
) -> Result<Carried, Error> {
    let response =
        duplex::get(&conn, target, extra, &[(HEADER_TUNNEL, RESUME_SUBPROTOCOL)]).await?;
    let tunnelled = response
        .headers()
        .get(HEADER_TUNNEL)
        .and_then(|v| v.to_str().ok())
        == Some(RESUME_SUBPROTOCOL);
    if !tunnelled {
        let plain =
            StreamingDuplex::answered(target.clone(), extra.clone(), conn, response).await?;
        return Ok(Carried::Plain(plain));
    }
    let id = answer_id(&response)?;
    let decode = BodyDecoder::new(answer_framed(&response));
    let (post_answer, post_body) = duplex::post(&conn, target, extra, &id).await?;
    Ok(Carried::Tunnel(Opened {
        outlet: Outlet::H2(post_body),
        inlet: Inlet::Tunnel(Box::new(TunnelInlet {
            body: response.into_body(),
            decode,
            ready: VecDeque::new(),
            ended: false,
            post_answer: Some(post_answer),
            conn,
        })),
        id,
        resumable: true,
    }))
}

/// A resume's tunnel. A plain duplex for an answer (the server lost
/// resume) is a failed attempt: it is destroyed, so the server drops it.
pub(crate) async fn resume(
    target: &Target,
    extra: &HeaderMap,
    conn: Arc<Conn>,
) -> Result<Opened, Error> {
    match open(target, extra, conn).await? {
        Carried::Tunnel(opened) => Ok(opened),
        Carried::Plain(plain) => {
            plain.destroy();
            Err(Error::NoWebSocket(format!(
                "the server answered the tunnel with a plain duplex (no {RESUME_SUBPROTOCOL})"
            )))
        }
    }
}
