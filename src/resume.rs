//! `ResumeServer`: the server's side of every resumable duplex (the core's
//! `resume::Server`, docs/protocol.md "Resume"). The WebSocket adapter tells
//! it what its duplexes send, receive and suffer, and carries out its
//! actions, each naming its duplex by the registry's key.

use http2_duplex_core as core;
use napi_derive::napi;

use core::resume::{self, Config};
use core::{ConnectionKey, DuplexKey};

use crate::refusal::Refusal;

/// What the adapter of `duplex` must do, in order.
#[napi(
    discriminant = "kind",
    discriminant_case = "kebab-case",
    object_from_js = false
)]
pub enum ResumeAction {
    /// The client acknowledged these bytes: drop them from the front of
    /// the queue of bytes sent.
    Drop { duplex: i64, bytes: f64 },
    /// The resume buffer is full: writes wait.
    Hold { duplex: i64 },
    /// Acks made room: writes that waited may go, up to `room()`.
    Flow { duplex: i64 },
    /// Send `ack count` now.
    Ack { duplex: i64, count: f64 },
    /// Close the duplex's old transport (a resume came on a new one); read
    /// nothing more from it.
    CloseTransport { duplex: i64 },
    /// The duplex was resumed after `downtime_ms` (0: the server had not
    /// noticed the failure): its `'resumed'` event.
    Resumed { duplex: i64, downtime_ms: f64 },
    /// Send again the whole queue of bytes sent (it starts at offset
    /// `from`), then the end if `end`.
    Resend { duplex: i64, from: f64, end: bool },
    /// Both ends are acknowledged both ways: close the WebSocket cleanly.
    Complete { duplex: i64 },
    /// Destroy the duplex with this error (warn); the core forgot it.
    Fail { duplex: i64, refusal: Refusal },
}

/// The answer to a resume request.
#[napi(
    discriminant = "kind",
    discriminant_case = "kebab-case",
    object_from_js = false
)]
pub enum ResumeAnswer {
    /// Answer `resumed received` on the new transport, then carry out the
    /// actions.
    Accepted {
        duplex: i64,
        received: f64,
        actions: Vec<ResumeAction>,
    },
    /// Refuse with a Close naming the code, and warn; nothing else changes.
    Refused { refusal: Refusal },
}

pub fn resume_refusal(error: resume::Error) -> Refusal {
    Refusal {
        code: error.code().as_str().to_owned(),
        status: None,
        message: error.to_string(),
        quiet: false,
    }
}

fn resume_actions(actions: Vec<(DuplexKey, resume::Action)>) -> Vec<ResumeAction> {
    use resume::Action;
    actions
        .into_iter()
        .map(|(DuplexKey(key), action)| {
            let duplex = key as i64;
            match action {
                Action::Drop { bytes } => ResumeAction::Drop {
                    duplex,
                    bytes: bytes as f64,
                },
                Action::Hold => ResumeAction::Hold { duplex },
                Action::Flow => ResumeAction::Flow { duplex },
                Action::Ack { count } => ResumeAction::Ack {
                    duplex,
                    count: count as f64,
                },
                Action::CloseTransport => ResumeAction::CloseTransport { duplex },
                Action::Resumed { downtime_ms, .. } => ResumeAction::Resumed {
                    duplex,
                    downtime_ms: downtime_ms as f64,
                },
                Action::Resend { from, end } => ResumeAction::Resend {
                    duplex,
                    from: from as f64,
                    end,
                },
                Action::Complete => ResumeAction::Complete { duplex },
                Action::Fail(error) => ResumeAction::Fail {
                    duplex,
                    refusal: resume_refusal(error),
                },
                // The server never reconnects.
                Action::Reconnect { .. } => unreachable!("a client's action"),
            }
        })
        .collect()
}

fn duplex_key(duplex: i64) -> DuplexKey {
    DuplexKey(duplex as u64)
}

#[napi(js_name = "ResumeServer")]
pub struct JsResumeServer {
    inner: resume::Server,
}

#[napi]
impl JsResumeServer {
    /// `resume_buffer` bytes per duplex and direction, within
    /// `max_bytes_per_connection` for the duplexes one connection opened
    /// and `max_bytes` for all; a detached duplex waits `resume_timeout_ms`.
    #[napi(constructor)]
    pub fn new(
        resume_buffer: f64,
        resume_timeout_ms: f64,
        max_bytes_per_connection: f64,
        max_bytes: f64,
    ) -> Self {
        JsResumeServer {
            inner: resume::Server::new(
                Config {
                    resume_buffer: resume_buffer as u64,
                    resume_timeout_ms: resume_timeout_ms as u64,
                },
                resume::Budgets {
                    per_connection: max_bytes_per_connection as u64,
                    server: max_bytes as u64,
                },
            ),
        }
    }

    /// A duplex opened with resume on `connection` (the registry's key):
    /// its secret, for the answer to `open`.
    #[napi]
    pub fn open(&mut self, duplex: i64, id: String, connection: i64) -> String {
        self.inner
            .open(duplex_key(duplex), &id, ConnectionKey(connection as u64))
            .encode()
    }

    /// Bytes the duplex may take into its resume buffer now.
    #[napi]
    pub fn room(&self, duplex: i64) -> f64 {
        self.inner.room(duplex_key(duplex)) as f64
    }

    /// The last count acknowledged to the client (the keep-alive's ack).
    #[napi]
    pub fn acked_to_peer(&self, duplex: i64) -> Option<f64> {
        self.inner
            .counts(duplex_key(duplex))
            .map(|counts| counts.acked_to_peer as f64)
    }

    /// The application wrote `n` bytes (at most `room()`).
    #[napi]
    pub fn handle_write(&mut self, duplex: i64, n: f64) -> Vec<ResumeAction> {
        let mut out = Vec::new();
        self.inner
            .handle_write(duplex_key(duplex), n as u64, &mut out);
        resume_actions(out)
    }

    #[napi]
    pub fn handle_end(&mut self, duplex: i64) {
        self.inner.handle_end(duplex_key(duplex));
    }

    /// `n` bytes of the client's direction were taken from the transport.
    #[napi]
    pub fn handle_data(&mut self, duplex: i64, n: f64, now: f64) -> Vec<ResumeAction> {
        let mut out = Vec::new();
        self.inner
            .handle_data(duplex_key(duplex), n as u64, now as u64, &mut out);
        resume_actions(out)
    }

    #[napi]
    pub fn handle_peer_end(&mut self, duplex: i64, now: f64) -> Vec<ResumeAction> {
        let mut out = Vec::new();
        self.inner
            .handle_peer_end(duplex_key(duplex), now as u64, &mut out);
        resume_actions(out)
    }

    #[napi]
    pub fn handle_ack(&mut self, duplex: i64, count: f64, now: f64) -> Vec<ResumeAction> {
        let mut out = Vec::new();
        self.inner
            .handle_ack(duplex_key(duplex), count as u64, now as u64, &mut out);
        resume_actions(out)
    }

    /// The duplex's WebSocket failed without a Close: it waits for its client.
    #[napi]
    pub fn handle_transport_failed(&mut self, duplex: i64, now: f64) {
        self.inner
            .handle_transport_failed(duplex_key(duplex), now as u64);
    }

    /// A client's `resume id secret count`.
    #[napi]
    pub fn handle_resume(
        &mut self,
        id: String,
        secret: String,
        count: f64,
        now: f64,
    ) -> ResumeAnswer {
        let mut out = Vec::new();
        match self
            .inner
            .handle_resume(&id, &secret, count as u64, now as u64, &mut out)
        {
            Ok(accepted) => ResumeAnswer::Accepted {
                duplex: accepted.duplex.0 as i64,
                received: accepted.received as f64,
                actions: resume_actions(out),
            },
            Err(error) => ResumeAnswer::Refused {
                refusal: resume_refusal(error),
            },
        }
    }

    /// The duplex is gone: a resume of it is refused as unknown; the
    /// duplexes its buffer left room for flow.
    #[napi]
    pub fn remove(&mut self, duplex: i64) -> Vec<ResumeAction> {
        let mut out = Vec::new();
        self.inner.remove(duplex_key(duplex), &mut out);
        resume_actions(out)
    }

    /// When `handleTimeout` is next due, if ever.
    #[napi]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.inner.poll_timeout().map(|at| at as f64)
    }

    #[napi]
    pub fn handle_timeout(&mut self, now: f64) -> Vec<ResumeAction> {
        let mut out = Vec::new();
        self.inner.handle_timeout(now as u64, &mut out);
        resume_actions(out)
    }
}
