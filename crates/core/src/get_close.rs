//! What the close of a duplex's GET stream means for the duplex.

use crate::rejection::{Reason, Rejection};

/// How a duplex's GET stream closed, as the adapter saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetClosed {
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
    /// The client reset the GET before the duplex was done: it breaks.
    Reset(Rejection),
    /// Only the duplex's writable side ends (the client still may POST).
    EndWritable,
}

/// A GET that closed before the server ended its response was reset, whatever
/// the code (CANCEL and NO_ERROR included); after its end, only a nonzero code.
pub fn get_closed(closed: &GetClosed) -> GetOutcome {
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
