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
    /// The WebSocket is over: end the stream. `refusal` when that breaks
    /// the duplex (the client broke the protocol, or closed before both
    /// directions ended); `close_code` the client's close code when it closed.
    Finished {
        close_code: Option<u32>,
        refusal: Option<Refusal>,
    },
}

/// What a stream's close, or its peer's end, means for the duplex.
#[napi(
    discriminant = "kind",
    discriminant_case = "kebab-case",
    object_from_js = false
)]
pub enum CloseOutcome {
    /// The duplex breaks with this error.
    Broken { refusal: Refusal },
    /// Both directions were done.
    Clean,
}

impl From<Option<core::Rejection>> for CloseOutcome {
    fn from(broke: Option<core::Rejection>) -> Self {
        match broke {
            Some(rejection) => CloseOutcome::Broken {
                refusal: Refusal::from(&rejection),
            },
            None => CloseOutcome::Clean,
        }
    }
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
            Action::Finished { code, .. } => WsAction::Finished {
                close_code: code.map(u32::from),
                refusal: action.server_failure().as_ref().map(Refusal::from),
            },
        })
        .collect()
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

    #[napi]
    pub fn receive(&mut self, input: &[u8]) -> Vec<WsAction> {
        let mut out = Vec::new();
        // Borrowed: each payload is copied once, unmasked as it is, into the
        // memory its Deliver hands over (copying the piece first to give the
        // core an owned buffer cost a copy and an allocation per piece).
        self.inner.receive(input, &mut out);
        ws_actions(out)
    }

    #[napi]
    pub fn consumed(&mut self, n: f64) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner.consumed(n as u64, &mut out);
        ws_actions(out)
    }

    /// The stream closed (reset, or its session went) with `rst_code`; null:
    /// the connection of an HTTP/1.1 WebSocket closed.
    #[napi]
    pub fn stream_closed(&mut self, rst_code: Option<u32>) -> CloseOutcome {
        match rst_code {
            Some(code) => self.inner.stream_closed(code),
            None => self.inner.connection_closed(),
        }
        .into()
    }

    /// The peer's side of the stream ended (END_STREAM, or a TCP half-close).
    #[napi]
    pub fn peer_ended(&mut self) -> CloseOutcome {
        self.inner.peer_ended().into()
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

    #[napi]
    pub fn end(&mut self) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner.end(&mut out);
        ws_actions(out)
    }

    #[napi]
    pub fn close(&mut self, code: u32, reason: String) -> Vec<WsAction> {
        let mut out = Vec::new();
        self.inner.close(code as u16, &reason, &mut out);
        ws_actions(out)
    }
}
