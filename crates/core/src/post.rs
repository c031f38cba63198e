use crate::options::MAX_SAFE_INTEGER;
use crate::rejection::{Reason, Rejection};

/// The protocol headers of a POST, as received.
#[derive(Clone, Debug, Default)]
pub struct PostHeaders<'a> {
    pub id: Option<&'a str>,
    pub seq: Option<&'a str>,
    pub single: Option<&'a str>,
    pub end: Option<&'a str>,
    pub destroyed: Option<&'a str>,
}

/// What a POST is, once its headers have been checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostKind {
    /// One chunk: the body, delivered as chunk `seq`.
    Write { seq: u64 },
    /// Streaming body (`http2-duplex-single`): every write until the client ends.
    Stream { seq: u64 },
    /// Client ended. `now` when every earlier chunk has been delivered;
    /// otherwise `Completion::ended` says when.
    End { destroyed: bool, now: bool },
}

/// Where a POST goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostRoute {
    pub key: crate::DuplexKey,
    pub kind: PostKind,
}

/// How a POST body ended, as the transport saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BodyEnd {
    /// The client reset the request (any code) before its body ended.
    pub reset: bool,
    /// Bytes received.
    pub received: u64,
    /// `content-length`, if the request declared one.
    pub declared: Option<u64>,
}

impl BodyEnd {
    /// A reset body, or one shorter than it said, cannot be delivered whole.
    pub(crate) fn check(&self) -> Result<(), Rejection> {
        // A short body is named as such even when the HTTP/2 layer reset the
        // stream for it (nghttp2 checks content-length too).
        match self.declared {
            Some(declared) if declared != self.received => {
                Err(Rejection::new(Reason::TruncatedBody {
                    received: self.received,
                    declared,
                }))
            }
            _ if self.reset => Err(Rejection::new(Reason::ClientReset)),
            _ => Ok(()),
        }
    }
}

pub(crate) fn flag(value: Option<&str>) -> bool {
    value == Some(crate::protocol::value::TRUE)
}

/// Parses `http2-duplex-seq`: ASCII digits only, below 2^53 (exact in JS).
pub(crate) fn parse_seq(value: Option<&str>) -> Result<Option<u64>, Rejection> {
    let Some(text) = value else { return Ok(None) };
    let malformed = || Rejection::new(Reason::MalformedSeq);
    if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let seq: u64 = text.parse().map_err(|_| malformed())?;
    if seq > MAX_SAFE_INTEGER {
        return Err(malformed());
    }
    Ok(Some(seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_parsing() {
        assert_eq!(parse_seq(None), Ok(None));
        assert_eq!(parse_seq(Some("0")), Ok(Some(0)));
        assert_eq!(
            parse_seq(Some("9007199254740991")),
            Ok(Some(MAX_SAFE_INTEGER))
        );
        for bad in [
            "",
            "-1",
            "+1",
            "1.0",
            "0x10",
            " 1",
            "9007199254740992",
            "12345678901234567",
        ] {
            assert_eq!(
                parse_seq(Some(bad)).unwrap_err().reason,
                Reason::MalformedSeq,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn body_ends() {
        let whole = BodyEnd {
            received: 3,
            declared: Some(3),
            ..BodyEnd::default()
        };
        assert_eq!(whole.check(), Ok(()));
        assert_eq!(BodyEnd::default().check(), Ok(()));
        let reset = BodyEnd {
            reset: true,
            ..whole
        };
        assert_eq!(reset.check().unwrap_err().code(), crate::Code::ClientReset);
        let short = BodyEnd {
            received: 2,
            ..whole
        };
        let err = short.check().unwrap_err();
        assert_eq!(
            (err.code(), err.status, err.fatal),
            (crate::Code::TruncatedBody, 400, true)
        );
    }

    #[test]
    fn flags_are_exactly_true() {
        assert!(flag(Some("true")));
        assert!(!flag(Some("TRUE")));
        assert!(!flag(Some("false")));
        assert!(!flag(None));
    }
}
