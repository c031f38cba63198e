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
}
