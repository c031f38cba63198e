//! What the close of a duplex's GET stream, or of the connection carrying
//! it, means for the duplex; and how a destroyed duplex's GET ends.

use crate::rejection::{Reason, Rejection};

/// The error a duplex's GET stream was destroyed with, as the adapter names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GetError {
    /// None.
    #[default]
    None,
    /// The client's reset (Node's `ERR_HTTP2_STREAM_ERROR`): what it means
    /// is decided by how the stream closed.
    PeerReset,
    /// Another one (the application's own `stream.destroy(err)`, say).
    Other,
}

/// How a duplex's GET stream closed, as the adapter saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetClosed {
    /// The error the stream was destroyed with.
    pub error: GetError,
    /// The RST_STREAM code the stream closed with (0: none, or NO_ERROR).
    pub rst_code: u32,
    /// The server had ended its response (END_STREAM written).
    pub server_ended: bool,
    /// The server closed the stream itself (6.x's `http2-duplex-destroyed`).
    pub closed_by_server: bool,
    /// The connection went away: its own close decides for the duplex.
    pub session_gone: bool,
    /// Both directions of the duplex were already done.
    pub duplex_done: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GetOutcome {
    /// The stream was destroyed with an error of its own while its
    /// connection lives: the duplex is destroyed with that error (Node's
    /// semantics for an error on a stream).
    DestroyWithError,
    /// The client reset the GET before the duplex was done: it breaks.
    Reset(Rejection),
    /// Only the duplex's writable side ends (the client still may POST).
    EndWritable,
}

/// A GET that closed before the server ended its response was reset, whatever
/// the code (CANCEL and NO_ERROR included); after its end, only a nonzero code.
pub fn get_closed(closed: &GetClosed) -> GetOutcome {
    if closed.error == GetError::Other && !closed.session_gone {
        return GetOutcome::DestroyWithError;
    }
    let reset = closed.rst_code != 0 || (!closed.server_ended && !closed.closed_by_server);
    if reset && !closed.session_gone && !closed.duplex_done {
        GetOutcome::Reset(Rejection::new(Reason::GetReset {
            code: closed.rst_code,
        }))
    } else {
        GetOutcome::EndWritable
    }
}

/// What the close of the connection carrying a duplex's GET means for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionOutcome {
    /// Nothing: paired beyond the connection, a duplex whose GET the server
    /// had ended lives on (its client's POSTs may come on other connections).
    Keep,
    /// The duplex ends (its readable side), as in 6.x.
    End,
    /// The connection failed: the duplex breaks.
    Fail(Rejection),
}

/// Whether a connection failed: it had an error, or a GOAWAY with an error code.
pub fn session_failed(errored: bool, goaway_codes: &[u32]) -> bool {
    errored || goaway_codes.iter().any(|&code| code != NO_ERROR)
}

/// HTTP/2's NO_ERROR (RFC 9113 §7).
const NO_ERROR: u32 = 0;

/// The state of a duplex's GET stream when the duplex is destroyed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DestroyedGet {
    /// Its body is framed (explicit END frame).
    pub framed: bool,
    /// The server had ended its response.
    pub server_ended: bool,
    /// The stream was already destroyed.
    pub stream_gone: bool,
    /// The duplex was destroyed with an error.
    pub failed: bool,
}

/// How the server ends a destroyed duplex's GET stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetEnd {
    /// Nothing to do: it ended and closes by itself.
    Leave,
    /// End it cleanly.
    End,
    /// Destroy it (with the duplex's error, if any).
    Reset,
}

/// A framed GET that ends without its END frame is an error at the client,
/// and unlike a reset every browser reports it (WebKit never reports an
/// RST_STREAM on a fetch body). An ended GET closes by itself once its last
/// DATA frame is out; a reset now could overtake that frame (Firefox reports
/// it as an error).
pub fn end_get(get: &DestroyedGet) -> GetEnd {
    if get.framed && !get.server_ended && !get.stream_gone {
        GetEnd::End
    } else if get.failed || !get.server_ended {
        GetEnd::Reset
    } else {
        GetEnd::Leave
    }
}

/// `failed`: the connection closed with an error or an error GOAWAY;
/// `wider_scope`: the duplex pairs beyond its connection; `server_ended`: the
/// server had ended the duplex's writable side.
pub fn session_closed(failed: bool, wider_scope: bool, server_ended: bool) -> SessionOutcome {
    if failed {
        SessionOutcome::Fail(Rejection::new(Reason::SessionClosed))
    } else if wider_scope && server_ended {
        SessionOutcome::Keep
    } else {
        SessionOutcome::End
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Code;

    #[test]
    fn a_reset_before_the_end_breaks_the_duplex_with_its_code() {
        for code in [0, 8] {
            let GetOutcome::Reset(reset) = get_closed(&GetClosed {
                rst_code: code,
                ..GetClosed::default()
            }) else {
                panic!("reset");
            };
            assert_eq!(reset.code(), Code::ClientReset);
            assert!(reset.fatal);
            assert_eq!(
                reset.to_string(),
                format!("the client reset the duplex's GET (HTTP/2 code {code})")
            );
        }
        let after_end = GetClosed {
            rst_code: 8,
            server_ended: true,
            ..GetClosed::default()
        };
        assert!(matches!(get_closed(&after_end), GetOutcome::Reset(_)));
    }

    #[test]
    fn an_ended_or_server_closed_get_ends_only_the_writable_side() {
        let ended = GetClosed {
            server_ended: true,
            ..GetClosed::default()
        };
        assert_eq!(get_closed(&ended), GetOutcome::EndWritable);
        let closed_by_server = GetClosed {
            closed_by_server: true,
            ..GetClosed::default()
        };
        assert_eq!(get_closed(&closed_by_server), GetOutcome::EndWritable);
        // A reset whose session went, or after both sides were done, breaks nothing.
        for spared in [
            GetClosed {
                session_gone: true,
                ..GetClosed::default()
            },
            GetClosed {
                duplex_done: true,
                rst_code: 2,
                ..GetClosed::default()
            },
        ] {
            assert_eq!(get_closed(&spared), GetOutcome::EndWritable);
        }
    }

    #[test]
    fn an_error_of_its_own_destroys_the_duplex_while_the_connection_lives() {
        let own = GetClosed {
            error: GetError::Other,
            server_ended: true,
            ..GetClosed::default()
        };
        assert_eq!(get_closed(&own), GetOutcome::DestroyWithError);
        let session_gone = GetClosed {
            session_gone: true,
            ..own
        };
        assert_eq!(get_closed(&session_gone), GetOutcome::EndWritable);
        // The client's reset is judged by how the stream closed.
        let peer_reset = GetClosed {
            error: GetError::PeerReset,
            rst_code: 8,
            ..GetClosed::default()
        };
        assert!(matches!(get_closed(&peer_reset), GetOutcome::Reset(_)));
    }

    #[test]
    fn a_destroyed_duplex_ends_a_framed_get_and_resets_an_unended_one() {
        let framed = DestroyedGet {
            framed: true,
            failed: true,
            ..DestroyedGet::default()
        };
        assert_eq!(end_get(&framed), GetEnd::End);
        let unframed = DestroyedGet {
            framed: false,
            ..framed
        };
        assert_eq!(end_get(&unframed), GetEnd::Reset);
        let ended = DestroyedGet {
            server_ended: true,
            ..DestroyedGet::default()
        };
        assert_eq!(end_get(&ended), GetEnd::Leave);
        assert_eq!(
            end_get(&DestroyedGet {
                failed: true,
                ..ended
            }),
            GetEnd::Reset
        );
        let gone = DestroyedGet {
            framed: true,
            stream_gone: true,
            ..DestroyedGet::default()
        };
        assert_eq!(end_get(&gone), GetEnd::Reset);
    }

    #[test]
    fn a_session_fails_on_an_error_or_an_error_goaway() {
        assert!(!session_failed(false, &[]));
        assert!(!session_failed(false, &[0]));
        assert!(session_failed(false, &[0, 2]));
        assert!(session_failed(true, &[]));
    }

    #[test]
    fn a_closed_session_ends_fails_or_keeps_its_duplexes() {
        let SessionOutcome::Fail(failed) = session_closed(true, true, true) else {
            panic!("fail");
        };
        assert_eq!(failed.code(), Code::SessionClosed);
        assert_eq!(session_closed(false, false, true), SessionOutcome::End);
        assert_eq!(session_closed(false, true, false), SessionOutcome::End);
        assert_eq!(session_closed(false, true, true), SessionOutcome::Keep);
    }
}
