/// Bounds that protect the server from bad or hostile clients.
///
/// Duplexes and the bytes they hold out of order are counted three ways: per
/// client connection, per pairing scope and for the whole server, so that in
/// a wide scope (`scope: 'server'` behind a proxy) one connection cannot take
/// what every other client needs. The defaults are far above what a
/// well-behaved client reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Duplexes open at once in one scope (an HTTP/2 session by default).
    pub max_duplexes_per_scope: usize,
    /// Duplexes opened by one client connection and open at once; `None`:
    /// as many as a scope.
    pub max_duplexes_per_connection: Option<usize>,
    /// Duplexes open at once in the whole server.
    pub max_duplexes: usize,
    /// Write POSTs of one duplex in flight at once (protocol v2 window).
    pub window: u64,
    /// Bytes of one duplex held out of order; also the v2 window in bytes.
    pub window_bytes: usize,
    /// Bytes held out of order by all the duplexes of one scope together, so
    /// that many duplexes cannot multiply `window_bytes`.
    pub max_held_bytes_per_scope: usize,
    /// The same, for the duplexes one client connection opened; `None`: as
    /// many as a scope.
    pub max_held_bytes_per_connection: Option<usize>,
    /// The same, for the whole server.
    pub max_held_bytes: usize,
    /// Size of one write POST body.
    pub max_write_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_duplexes_per_scope: 1000,
            max_duplexes_per_connection: Some(100),
            max_duplexes: 10_000,
            window: crate::protocol::defaults::WINDOW,
            window_bytes: crate::protocol::defaults::WINDOW_BYTES,
            max_held_bytes_per_scope: 64 << 20,
            max_held_bytes_per_connection: Some(16 << 20),
            max_held_bytes: 256 << 20,
            max_write_bytes: 16 << 20,
        }
    }
}

impl Limits {
    /// The defaults for a server whose scopes are `session_scoped` (one per
    /// HTTP/2 session, as in 6.x) or wider. In a session's scope the
    /// connection is the scope: its bounds are the scope's unless set.
    pub fn for_scopes(session_scoped: bool) -> Self {
        let limits = Limits::default();
        if session_scoped {
            Limits {
                max_duplexes_per_connection: None,
                max_held_bytes_per_connection: None,
                ..limits
            }
        } else {
            limits
        }
    }

    pub fn duplexes_per_connection(&self) -> usize {
        self.max_duplexes_per_connection
            .unwrap_or(self.max_duplexes_per_scope)
    }

    pub fn held_bytes_per_connection(&self) -> usize {
        self.max_held_bytes_per_connection
            .unwrap_or(self.max_held_bytes_per_scope)
    }
}

/// Which budget a refusal names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// What one client connection opened.
    Connection,
    /// A pairing scope (an HTTP/2 session by default).
    Scope,
    /// The whole server.
    Server,
}

impl Budget {
    /// The option that sets this budget's duplex count.
    pub fn duplexes_option(self) -> &'static str {
        match self {
            Budget::Connection => "max_duplexes_per_connection",
            Budget::Scope => "max_duplexes_per_session",
            Budget::Server => "max_duplexes",
        }
    }

    /// The option that sets this budget's bytes held out of order.
    pub fn held_bytes_option(self) -> &'static str {
        match self {
            Budget::Connection => "max_held_bytes_per_connection",
            Budget::Scope => "max_held_bytes_per_session",
            Budget::Server => "max_held_bytes",
        }
    }

    fn of_what(self) -> &'static str {
        match self {
            Budget::Connection => "this connection",
            Budget::Scope => "this pairing scope",
            Budget::Server => "this server",
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.of_what())
    }
}
