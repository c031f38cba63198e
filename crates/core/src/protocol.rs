//! The wire protocol's constants, defined once: header names, the framed
//! GET's frame types, the preamble, the WebSocket subprotocol and its
//! messages, close codes, defaults and waits. The Rust client uses these;
//! the JS layers (server, Node client, browser client) read the same tables
//! from `lib/protocol.js`, which `cargo test` keeps equal to them
//! (`UPDATE_PROTOCOL=1 cargo test -p http2-duplex-core` rewrites it).

/// Defines a module of constants and the list of them that generates its
/// table in `lib/protocol.js` (named `$js` there).
macro_rules! table {
    ($(#[doc = $doc:literal])* pub mod $module:ident as $js:literal {
        $($(#[doc = $item_doc:literal])* $name:ident: $ty:ty = $value:expr;)*
    }) => {
        $(#[doc = $doc])*
        pub mod $module {
            $($(#[doc = $item_doc])* pub const $name: $ty = $value;)*

            /// The table's name in `lib/protocol.js` and its entries as JS
            /// literals.
            #[cfg(test)]
            pub(crate) fn js_table() -> (&'static str, Vec<(&'static str, String)>) {
                use super::JsLiteral;
                ($js, vec![$((stringify!($name), $name.js_literal())),*])
            }
        }
    };
}

table! {
    /// Request and response header names (docs/protocol.md).
    pub mod header as "HEADER" {
        /// The duplex's id: in the GET's answer, on every POST.
        ID: &str = "http2-duplex-id";
        /// Protocol version 2: the 0-based number of a write POST, or on an
        /// end POST the number of writes sent.
        SEQ: &str = "http2-duplex-seq";
        /// A streaming POST: its body is every write (value [`super::value::TRUE`]).
        SINGLE: &str = "http2-duplex-single";
        /// An end POST: the client ended (value [`super::value::TRUE`]).
        END: &str = "http2-duplex-end";
        /// With [`END`]: the client destroyed the duplex.
        DESTROYED: &str = "http2-duplex-destroyed";
        /// The protocol version the server speaks (GET answer).
        VERSION: &str = "http2-duplex-version";
        /// Write POSTs of a duplex in flight at once (GET answer, version 2).
        WINDOW: &str = "http2-duplex-window";
        /// Bytes of a duplex's writes in flight at once (GET answer, version 2).
        WINDOW_BYTES: &str = "http2-duplex-window-bytes";
        /// The stable code of a refused request (a `Code`).
        ERROR: &str = "http2-duplex-error";
        /// A GET asking for a framed body, and its answer saying it is framed
        /// (value [`super::value::FRAMING_VERSION`]).
        FRAMING: &str = "http2-duplex-framing";
        /// A GET asking to carry a WebSocket subprotocol (the ones it offers),
        /// and its answer naming the one it carries: a tunnel (docs/protocol.md
        /// "Resume on the fetch paths").
        TUNNEL: &str = "http2-duplex-tunnel";
        /// What a page on another origin may read of an answer (CORS): every
        /// header the server sends.
        EXPOSED: &str = "http2-duplex-id, http2-duplex-version, http2-duplex-window, \
http2-duplex-window-bytes, http2-duplex-error, http2-duplex-framing, http2-duplex-tunnel";
        /// What a page's requests may carry (CORS), allowed when a preflight
        /// names none.
        ALLOWED: &str = "http2-duplex-id, http2-duplex-seq, http2-duplex-single, \
http2-duplex-end, http2-duplex-destroyed, http2-duplex-framing, http2-duplex-tunnel, content-type";
    }
}

table! {
    /// Header values and the bytes a body starts with.
    pub mod value as "VALUE" {
        /// The value of a flag header ([`super::header::SINGLE`], `END`, `DESTROYED`).
        TRUE: &str = "true";
        /// The framing a client asks for and a server answers.
        FRAMING_VERSION: &str = "1";
        /// The protocol version this core speaks.
        PROTOCOL_VERSION: u32 = 2;
        /// The first version whose write POSTs carry [`super::header::SEQ`]
        /// (pipelined writes).
        PIPELINED_VERSION: u32 = 2;
        /// The GET body's first byte: it makes fetch resolve before the
        /// server's first write; the client drops it.
        PREAMBLE: &str = "a";
        /// The content type of GET answers and POST bodies.
        CONTENT_TYPE: &str = "application/octet-stream";
    }
}

table! {
    /// The framed GET body (docs/protocol.md, "Framed GET body"): after the
    /// preamble, frames of one type byte, a 4-byte big-endian length and the
    /// payload.
    pub mod frame as "FRAME" {
        /// The server's writes.
        DATA: u8 = 0x00;
        /// Keeps an idle GET alive through proxies; no payload meaning.
        PING: u8 = 0x01;
        /// The server ended on purpose; nothing follows.
        END: u8 = 0x02;
        /// Type byte and length.
        HEADER_BYTES: usize = 5;
    }
}

table! {
    /// The message layer over a WebSocket (docs/websocket.md).
    pub mod websocket as "WEBSOCKET" {
        /// The subprotocol a client asks for and a server accepts.
        SUBPROTOCOL: &str = "http2-duplex.1";
        /// The subprotocol with resume (docs/protocol.md "Resume"): a client
        /// with resume on offers it before [`SUBPROTOCOL`].
        RESUME_SUBPROTOCOL: &str = "http2-duplex.2";
        /// http2-duplex.2: the client's first message for a new duplex.
        OPEN_MESSAGE: &str = "open";
        /// http2-duplex.2: the client's first message to resume a duplex:
        /// this, then its id, secret and count received.
        RESUME_PREFIX: &str = "resume ";
        /// http2-duplex.2: the server's answer to `open`: this, then the id,
        /// the secret, the resume buffer, the resume timeout and the
        /// keep-alive interval.
        RESUMABLE_PREFIX: &str = "resumable ";
        /// http2-duplex.2: the server's answer to `resume`: this, then its
        /// count received.
        RESUMED_PREFIX: &str = "resumed ";
        /// http2-duplex.2: an acknowledgement: this, then a count received.
        ACK_PREFIX: &str = "ack ";
        /// http2-duplex.2: a resuming client's WebSocket asks for the duplex
        /// path with this query, then the id's node prefix (before its first
        /// `.`), so that a proxy can route it to the duplex's node; never
        /// the whole id, which stays out of URLs and access logs.
        RESUME_QUERY: &str = "?resume=";
        /// The text message that ends the sender's direction.
        END_MESSAGE: &str = "end";
        /// A text message granting credit: this, then 1 to 16 digits.
        CREDIT_PREFIX: &str = "credit ";
        /// The server's first message: this, then the duplex's id.
        ID_PREFIX: &str = "id ";
        /// The longest id the server names in its first message.
        MAX_ID_LENGTH: usize = 100;
        /// What each side may send before the first `credit`: 1 MiB of
        /// binary payload. It is also the default receive window.
        INITIAL_CREDIT: u64 = 1 << 20;
        /// The most credit a side may hold: 2^53 - 1, so that JS can count it.
        MAX_CREDIT: u64 = (1 << 53) - 1;
    }
}

table! {
    /// WebSocket close codes (RFC 6455 §7.4.1) that http2-duplex sends. A
    /// Close with [`POLICY_VIOLATION`] names its cause's `Code` as its reason
    /// (`ERR_HTTP2_DUPLEX_WS_CREDIT` or `ERR_HTTP2_DUPLEX_WS_MESSAGE`), as
    /// the `http2-duplex-error` header does for a refused request.
    pub mod close as "CLOSE" {
        /// Both directions ended.
        NORMAL: u16 = 1000;
        /// A duplex destroyed before both directions ended.
        GOING_AWAY: u16 = 1001;
        PROTOCOL_ERROR: u16 = 1002;
        /// A text message or close reason that is not UTF-8.
        INVALID_DATA: u16 = 1007;
        /// A violation of http2-duplex.1 (credit, messages).
        POLICY_VIOLATION: u16 = 1008;
        /// A message larger than the maximum message size.
        TOO_BIG: u16 = 1009;
        /// What a browser page answers a server's violation with: a page may
        /// send only 1000 and 3000–4999, so [`POLICY_VIOLATION`] moved into
        /// the 4000s.
        PAGE_VIOLATION: u16 = 3000 + POLICY_VIOLATION;
        /// http2-duplex.2: the client abandons a WebSocket it takes for hung;
        /// the duplex lives on, to be resumed.
        RESUMING: u16 = 4001;
    }
}

table! {
    /// Defaults of the server's options and the clients' fallbacks.
    pub mod defaults as "DEFAULTS" {
        /// Write POSTs of one duplex in flight at once (`window`).
        WINDOW: u64 = 16;
        /// Bytes of one duplex held out of order (`window_bytes`).
        WINDOW_BYTES: usize = 4 << 20;
        /// How long a POST open when its duplex is destroyed waits before
        /// it is answered (`close_timeout`, ms).
        CLOSE_TIMEOUT_MS: u32 = 1000;
        /// A PING frame on a framed GET idle this long, and an HTTP/2 PING on
        /// a session that received nothing this long (`keepalive_interval`, ms).
        KEEPALIVE_INTERVAL_MS: u32 = 20_000;
    }
}

table! {
    /// Resume (docs/protocol.md "Resume"): the defaults of the server's
    /// options and the clients' timings.
    pub mod resume as "RESUME" {
        /// `resume_buffer`: bytes sent and not yet acknowledged, per duplex
        /// and direction (4 × the WebSocket's initial credit, so that the
        /// buffer does not limit a transport's own window).
        BUFFER: u64 = 4 << 20;
        /// `resume_timeout` (ms): how long a detached duplex waits for its
        /// client, long enough for a phone to change networks.
        TIMEOUT_MS: u64 = 30_000;
        /// How long an unacknowledged receipt waits for traffic to carry its
        /// ack before an explicit one goes (ms).
        ACK_DELAY_MS: u64 = 200;
        /// How long a resume attempt may go unanswered before the next (ms):
        /// a connection's set-up, TLS included, on a poor network.
        ATTEMPT_TIMEOUT_MS: u64 = 10_000;
        /// The wait after the first failed resume attempt (ms); it doubles
        /// after each further one.
        FIRST_RECONNECT_DELAY_MS: u64 = 250;
        /// The longest wait between two resume attempts (ms).
        MAX_RECONNECT_DELAY_MS: u64 = 2_000;
        /// `max_resume_bytes_per_connection`: what the resume buffers of the
        /// duplexes one client connection opened keep together (16 full
        /// buffers of the default size).
        MAX_BYTES_PER_CONNECTION: u64 = 64 << 20;
        /// `max_resume_bytes`: what all the server's resume buffers keep
        /// together.
        MAX_BYTES: u64 = 1 << 30;
    }
}

table! {
    /// How long one side waits for the other.
    pub mod wait as "WAIT" {
        /// After both directions ended (or a destroy), how long a WebSocket
        /// side waits for the peer's Close (and, on HTTP/2, the end of its
        /// stream) before it closes or resets the stream itself.
        WS_CLOSE_MS: u32 = 5000;
        /// How long the server waits for the answer to a keep-alive PING on
        /// an HTTP/2 session before it destroys the session as dead: the
        /// `keepalive_interval`, and at least this.
        PING_ANSWER_MIN_MS: u32 = 1000;
        /// How long the Node client remembers that an origin's TLS handshake
        /// offered no HTTP/2 before it asks again: as long as the browser
        /// client keeps a WebSocket's failure to open.
        RETRY_AFTER_MS: u32 = 5 * 60 * 1000;
    }
}

/// How a constant is written in `lib/protocol.js`.
#[cfg(test)]
trait JsLiteral {
    fn js_literal(&self) -> String;
}

#[cfg(test)]
impl JsLiteral for &str {
    fn js_literal(&self) -> String {
        format!("'{}'", self.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

#[cfg(test)]
macro_rules! js_number {
    ($($ty:ty),*) => {$(
        impl JsLiteral for $ty {
            fn js_literal(&self) -> String {
                assert!((*self as u64) <= super::options::MAX_SAFE_INTEGER);
                self.to_string()
            }
        }
    )*};
}

#[cfg(test)]
js_number!(u8, u16, u32, u64, usize);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::Violation;

    const GENERATED_NOTE: &str = "// Generated from crates/core/src/protocol.rs by `UPDATE_PROTOCOL=1 cargo test -p http2-duplex-core`; do not edit.\n";

    fn tables() -> Vec<(&'static str, Vec<(&'static str, String)>)> {
        vec![
            header::js_table(),
            value::js_table(),
            frame::js_table(),
            websocket::js_table(),
            close::js_table(),
            close_errors(),
            defaults::js_table(),
            resume::js_table(),
            wait::js_table(),
        ]
    }

    /// Close code → the `Code` of a Close with it, for the codes that name
    /// one cause (a [`close::POLICY_VIOLATION`]'s reason names its own).
    fn close_errors() -> (&'static str, Vec<(&'static str, String)>) {
        let mut rows: Vec<(u16, &'static str)> = Vec::new();
        for violation in Violation::ALL {
            let (code, name) = (violation.code(), violation.error_code().as_str());
            if code != close::POLICY_VIOLATION && !rows.contains(&(code, name)) {
                assert!(
                    rows.iter().all(|(c, _)| *c != code),
                    "close code {code} names two causes"
                );
                rows.push((code, name));
            }
        }
        rows.sort();
        let rows = rows
            .into_iter()
            .map(|(code, name)| (leak(code.to_string()), name.js_literal()))
            .collect();
        ("CLOSE_ERRORS", rows)
    }

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    /// The tables as a CommonJS module (`lib/protocol.js`).
    fn js_module() -> String {
        let tables: Vec<String> = tables()
            .into_iter()
            .map(|(name, rows)| {
                let rows: Vec<String> = rows
                    .iter()
                    .map(|(key, value)| format!("        {key}: {value}"))
                    .collect();
                format!(
                    "    {name}: Object.freeze({{\n{}\n    }})",
                    rows.join(",\n")
                )
            })
            .collect();
        format!(
            "'use strict';\n{GENERATED_NOTE}module.exports = Object.freeze({{\n{}\n}});\n",
            tables.join(",\n")
        )
    }

    #[test]
    fn tables_have_unique_names() {
        let tables = tables();
        for (i, (name, rows)) in tables.iter().enumerate() {
            assert!(tables[i + 1..].iter().all(|(other, _)| other != name));
            for (j, (key, _)) in rows.iter().enumerate() {
                assert!(
                    rows[j + 1..].iter().all(|(other, _)| other != key),
                    "{name}.{key}"
                );
            }
        }
        for (_, name) in header::js_table().1 {
            assert!(name.starts_with("'http2-duplex-"), "{name}");
        }
    }

    #[test]
    fn cors_lists_name_the_headers() {
        use header::*;
        let sent = [ID, VERSION, WINDOW, WINDOW_BYTES, ERROR, FRAMING, TUNNEL];
        assert_eq!(EXPOSED, sent.join(", "));
        let received = [
            ID,
            SEQ,
            SINGLE,
            END,
            DESTROYED,
            FRAMING,
            TUNNEL,
            "content-type",
        ];
        assert_eq!(ALLOWED, received.join(", "));
    }

    // The JS copy of the tables is generated; this keeps it equal to them.
    #[test]
    fn js_tables_match() {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../lib/protocol.js");
        let text = js_module();
        if std::env::var_os("UPDATE_PROTOCOL").is_some() {
            std::fs::write(file, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(file).unwrap_or_default();
        assert!(
            on_disk == text,
            "lib/protocol.js differs from crates/core/src/protocol.rs: run `UPDATE_PROTOCOL=1 cargo test -p http2-duplex-core`"
        );
    }
}
