//! `WsEndpoint`: the server's end of one http2-duplex.1 WebSocket (an RFC 8441
//! extended CONNECT stream, or an RFC 6455 upgraded connection). The JS adapter
//! feeds it and carries out its actions.

use http2_duplex_core as core;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::refusal::Refusal;

/// What the WebSocket transport must do, in order.
#[napi(
    discriminant = "kind",
    discriminant_case = "kebab-case",
    object_from_js = false
)]
pub enum WsAction {
    /// Push `data` into the duplex's readable side.
    Deliver { data: Buffer },
    /// The peer ended its direction.
    End,
    /// Write this frame to the stream.
    Send { data: Buffer },
    /// The peer granted credit: writes that waited may go.
    Credit,
    /// http2-duplex.2: the client acknowledged `count` units.
    Ack { count: f64 },
    /// http2-duplex.2: the client's first message opens a new duplex.
    Open,
    /// http2-duplex.2: the client's first message resumes duplex `id`.
    Resume {
        id: String,
        secret: String,
        received: f64,
    },
    /// The WebSocket is over: end the stream. `refusal` when that breaks
    /// the duplex (the client broke the protocol, or closed before both
    /// directions ended); `close_code` the client's close code when it
    /// closed; `detached`: the client abandoned it (http2-duplex.2), the
    /// duplex waits to be resumed.
    Finished {
        close_code: Option<u32>,
        refusal: Option<Refusal>,
        detached: bool,
    },
    /// End the stream now; `refusal` when that breaks the duplex (the
    /// client's doing).
    EndStream { refusal: Option<Refusal> },
    /// End the stream once the client's Close came (`finished`), or after `ms`.
    EndStreamAfter { ms: u32 },
    /// http2-duplex.2: the WebSocket failed without a Close; the duplex
    /// waits to be resumed.
    Detach,
}

fn ws_actions(actions: Vec<core::websocket::Action>) -> Vec<WsAction> {
    use core::websocket::Action;
    actions
        .into_iter()
        .map(|action| match action {
            // A unique Bytes becomes the Buffer's memory without a copy.
            Action::Deliver(bytes) => WsAction::Deliver {
                data: Vec::from(bytes).into(),
            },
            Action::Send(bytes) => WsAction::Send {
                data: Vec::from(bytes).into(),
            },
            Action::End => WsAction::End,
            Action::Credit => WsAction::Credit,
            Action::Ack { count } => WsAction::Ack {
                count: count as f64,
            },
            Action::Open => WsAction::Open,
            Action::Resume(request) => WsAction::Resume {
                id: request.id,
                secret: request.secret,
                received: request.received as f64,
            },
            Action::Finished { code, detached, .. } => WsAction::Finished {
                close_code: code.map(u32::from),
                refusal: action.server_failure().as_ref().map(Refusal::from),
                detached,
            },
            // A client's answers: the server's endpoint never gets them.
            Action::Resumable(_) | Action::Resumed { .. } | Action::ResumeRefused { .. } => {
                unreachable!("a client's action")
            }
        })
        .collect()
}

/// `actions`, then what the stream's `ending` asks for.
fn ending_actions(
    actions: Vec<core::websocket::Action>,
    ending: core::websocket::Ending,
) -> Vec<WsAction> {
    use core::websocket::Ending;
    let mut out = ws_actions(actions);
    match ending {
        Ending::Leave => {}
        Ending::End { broken } => out.push(WsAction::EndStream {
            refusal: broken.as_ref().map(Refusal::from),
        }),
        Ending::EndAfter { ms } => out.push(WsAction::EndStreamAfter { ms }),
        Ending::Detach => out.push(WsAction::Detach),
    }
    out
}

#[napi(js_name = "WsEndpoint")]
pub struct JsWsEndpoint {
    inner: core::websocket::Endpoint,
}

#[napi]
impl JsWsEndpoint {
    #[napi(constructor)]
    pub fn new(max_message: f64, window: f64) -> Self {
        JsWsEndpoint {
            inner: core::websocket::Endpoint::new(max_message as usize, window as u64),
        }
    }

    #[napi]
    pub fn open(&mut self, id: Option<String>) -> Vec<WsAction> {
        let mut out = Vec::new();
        match id {
            Some(id) => self.inner.open_with_id(&id, &mut out),
            None => self.inner.open(&mut out),
        }
        ws_actions(out)
    }

    /// Speak http2-duplex.2 (the answer selected it): the client's first
    /// message opens or resumes a duplex.
    #[napi]
    pub fn set_resumable(&mut self) {
        self.inner.set_resumable();
    }

    /// Answer `open`: the duplex's id, its secret and the resume options.
    #[napi]
    pub fn send_resumable(
        &mut self,
        id: String,
        secret: String,
        resume_buffer: f64,
        resume_timeout_ms: f64,
        keepalive_ms: f64,
    ) -> Vec<WsAction> {
        let config = core::resume::Config {
            resume_buffer: resume_buffer as u64,
            resume_timeout_ms: resume_timeout_ms as u64,
        };
        let mut out = Vec::new();
        self.inner
            .send_resumable(&id, &secret, config, keepalive_ms as u64, &mut out);
        ws_actions(out)
    }

    /// Answer `resume`: the server's count received, and the credit the
    /// window leaves beside the `held` bytes the duplex's reader holds.
    #[napi]
    pub fn send_resumed(&mut self, received: f64, held: f64) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner
            .send_resumed(received as u64, held as u64, &mut out);
        ws_actions(out)
    }

    /// Refuse a resume with a Close naming `code` (one of the resume codes).
    #[napi]
    pub fn refuse_resume(&mut self, code: String) -> Vec<WsAction> {
        let mut out = Vec::new();
        let code = code.parse().unwrap_or(core::Code::ResumeUnknown);
        self.inner.refuse_resume(code, &mut out);
        ws_actions(out)
    }

    #[napi]
    pub fn send_ack(&mut self, count: f64) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner.send_ack(count as u64, &mut out);
        ws_actions(out)
    }

    /// The duplex is complete: close the WebSocket with 1000.
    #[napi]
    pub fn complete(&mut self) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner.complete(&mut out);
        ws_actions(out)
    }

    #[napi]
    pub fn receive(&mut self, input: &[u8]) -> Vec<WsAction> {
        let mut out = Vec::new();
        // Borrowed: each payload is copied once, unmasked as it is, into the
        // memory its Deliver hands over (copying the piece first to give the
        // core an owned buffer cost a copy and an allocation per piece).
        self.inner.receive(input, &mut out);
        ws_actions(out)
    }

    /// The duplex's readable side still buffers `buffered` bytes: what the
    /// reader took since goes back as credit.
    #[napi]
    pub fn handle_read(&mut self, buffered: f64) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner.handle_read(buffered as u64, &mut out);
        ws_actions(out)
    }

    /// The client's side of the stream ended (END_STREAM, or a TCP
    /// half-close); `stream_closed`: the stream had closed by then.
    #[napi]
    pub fn handle_peer_ended(&mut self, stream_closed: bool) -> Vec<WsAction> {
        ending_actions(Vec::new(), self.inner.handle_peer_ended(stream_closed))
    }

    /// The stream closed (reset, or its session went) with `rst_code`; null:
    /// the connection of an HTTP/1.1 WebSocket closed.
    #[napi]
    pub fn handle_stream_closed(&mut self, rst_code: Option<u32>) -> Vec<WsAction> {
        ending_actions(Vec::new(), self.inner.handle_stream_closed(rst_code))
    }

    /// The duplex was destroyed (`failed`: with an error); `writes_done`: all
    /// its writes were done; `stream_ended`, `stream_gone`: its stream's
    /// writable side had ended, it was destroyed.
    #[napi]
    pub fn handle_destroyed(
        &mut self,
        failed: bool,
        writes_done: bool,
        stream_ended: bool,
        stream_gone: bool,
    ) -> Vec<WsAction> {
        let destroyed = core::websocket::Destroyed {
            failed,
            writes_done,
            stream_ended,
            stream_gone,
        };
        let mut out = Vec::new();
        let ending = self.inner.handle_destroyed(&destroyed, &mut out);
        ending_actions(out, ending)
    }

    #[napi]
    pub fn send_credit(&self) -> f64 {
        self.inner.send_credit() as f64
    }

    /// The header of a binary frame of `len` bytes, counted as sent; null
    /// beyond the credit.
    #[napi]
    pub fn data_header(&mut self, len: f64) -> Option<Buffer> {
        self.inner
            .data_header(len as u64)
            .map(|(header, n)| header[..n].to_vec().into())
    }

    /// The keep-alive's Ping for an HTTP/1.1 WebSocket whose connection was
    /// silent (the server's session check asked for it).
    #[napi]
    pub fn ping(&mut self) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner.ping(&mut out);
        ws_actions(out)
    }

    #[napi]
    pub fn end(&mut self) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner.end(&mut out);
        ws_actions(out)
    }
}
