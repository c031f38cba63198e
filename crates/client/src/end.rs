//! How a duplex ended, whatever carries it: the streaming transport
//! (crate::duplex), a WebSocket (crate::ws) or a resumable WebSocket
//! duplex (crate::resume).

use crate::Error;

#[derive(Clone, Debug)]
pub(crate) enum End {
    /// It ended as it should: both directions ended (over a WebSocket, the
    /// close handshake too; resumable, everything acknowledged both ways).
    Done,
    Destroyed,
    Failed(Error),
}

impl End {
    /// What `closed()` resolves with: the failure, if it failed.
    pub(crate) fn failure(&self) -> Option<Error> {
        match self {
            End::Failed(err) => Some(err.clone()),
            End::Done | End::Destroyed => None,
        }
    }

    /// Why a call on the duplex fails: `None` for a duplex that is done
    /// (a read sees the end).
    pub(crate) fn error(&self) -> Option<Error> {
        match self {
            End::Done => None,
            End::Destroyed => Some(Error::Destroyed),
            End::Failed(err) => Some(err.clone()),
        }
    }

    /// Why a write cannot go: the failure, else (done or destroyed) the
    /// duplex is gone.
    pub(crate) fn write_error(&self) -> Error {
        self.failure().unwrap_or(Error::Destroyed)
    }
}
