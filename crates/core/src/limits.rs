/// Bounds that protect the server from bad or hostile clients.
///
/// The defaults are far above what a well-behaved client reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Duplexes open at once in one scope (an HTTP/2 session).
    pub max_duplexes_per_scope: usize,
    /// Write POSTs of one duplex in flight at once (protocol v2 window).
    pub window: u64,
    /// Bytes of one duplex held out of order; also the v2 window in bytes.
    pub window_bytes: usize,
    /// Bytes held out of order by all the duplexes of one scope together, so
    /// that many duplexes cannot multiply `window_bytes`.
    pub max_held_bytes_per_scope: usize,
    /// Size of one write POST body.
    pub max_write_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_duplexes_per_scope: 1000,
            window: 16,
            window_bytes: 4 << 20,
            max_held_bytes_per_scope: 64 << 20,
            max_write_bytes: 16 << 20,
        }
    }
}
