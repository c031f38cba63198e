//! The origin check and the `cors` option: which pages may open and use
//! duplexes. A request with no `origin` (not a browser) or the page's own is
//! served; one from a page on another origin only if the `cors` option allows
//! that origin, on every transport (a WebSocket has no CORS of its own), with
//! the `access-control-*` headers that say so.

use std::collections::HashSet;

use crate::answer::EXPOSED_HEADERS;
use crate::rejection::{Reason, Rejection};

/// Request headers a page's POSTs carry, allowed when a preflight names none.
const ALLOWED_HEADERS: &str = crate::protocol::header::ALLOWED;

/// Who decides which foreign origins are allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origins {
    Listed(HashSet<String>),
    /// The application (a function): `decide` answers `Ask` for a foreign
    /// origin until it is given the application's answer.
    Application,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsPolicy {
    /// Without a `cors` option: none.
    pub origins: Origins,
    /// `false` (the `check_origin` option): a foreign origin that `origins`
    /// does not allow is served anyway, without CORS headers, as 6.x did.
    pub check_origin: bool,
    pub credentials: bool,
    /// Seconds a browser may cache a preflight's answer.
    pub max_age: u64,
}

/// The parts of a request CORS looks at.
#[derive(Clone, Copy, Debug, Default)]
pub struct CorsRequest<'a> {
    pub method: &'a str,
    pub origin: Option<&'a str>,
    /// `:authority` (HTTP/2) or `host` (HTTP/1.1).
    pub authority: Option<&'a str>,
    /// `access-control-request-headers` of a preflight.
    pub request_headers: Option<&'a str>,
    /// The application's answer for `origin`, once asked.
    pub application_allows: Option<bool>,
}

pub type Headers = Vec<(&'static str, String)>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsDecision {
    /// No `Origin`, or the page's own: nothing to check or add.
    SameOrigin,
    /// Ask the application whether the origin may; decide again with its answer.
    Ask,
    /// Go on; every answer to the request carries these headers.
    Allowed(Headers),
    /// A preflight: answer `204` with these headers.
    Preflight(Headers),
    /// `403`: a foreign page may not open or use duplexes here.
    Refused(Rejection),
}

impl CorsPolicy {
    pub fn decide(&self, request: &CorsRequest<'_>) -> CorsDecision {
        let Some(origin) = request.origin else {
            return CorsDecision::SameOrigin;
        };
        // Browsers send Origin on a page's own POSTs too.
        if request
            .authority
            .is_some_and(|authority| same_origin(origin, authority))
        {
            return CorsDecision::SameOrigin;
        }
        let allowed = match &self.origins {
            Origins::Listed(listed) => listed.contains(origin),
            Origins::Application => match request.application_allows {
                Some(allowed) => allowed,
                None => return CorsDecision::Ask,
            },
        };
        if !allowed && !self.check_origin {
            return CorsDecision::SameOrigin;
        }
        if !allowed {
            return CorsDecision::Refused(Rejection::new(Reason::OriginNotAllowed {
                origin: origin.chars().take(200).collect(),
            }));
        }
        let mut headers = vec![
            ("access-control-allow-origin", origin.to_owned()),
            ("access-control-expose-headers", EXPOSED_HEADERS.to_owned()),
            ("vary", "origin".to_owned()),
        ];
        if self.credentials {
            headers.push(("access-control-allow-credentials", "true".to_owned()));
        }
        if request.method != "OPTIONS" {
            return CorsDecision::Allowed(headers);
        }
        headers.extend([
            ("access-control-allow-methods", "GET, POST".to_owned()),
            (
                "access-control-allow-headers",
                request
                    .request_headers
                    .unwrap_or(ALLOWED_HEADERS)
                    .to_owned(),
            ),
            ("access-control-max-age", self.max_age.to_string()),
        ]);
        CorsDecision::Preflight(headers)
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the host and port the
/// request was sent to (`authority`), default ports aside.
fn same_origin(origin: &str, authority: &str) -> bool {
    let Some((scheme, host)) = origin.split_once("://") else {
        return false; // "null" (a sandboxed page) or garbage
    };
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        ":443"
    } else if scheme.eq_ignore_ascii_case("http") {
        ":80"
    } else {
        return false;
    };
    let host = host.strip_suffix(default_port).unwrap_or(host);
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    !host.is_empty() && host.eq_ignore_ascii_case(authority)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Code;

    fn listed(credentials: bool) -> CorsPolicy {
        CorsPolicy {
            origins: Origins::Listed(["https://app.example".to_owned()].into()),
            check_origin: true,
            credentials,
            max_age: 600,
        }
    }

    fn from<'a>(origin: &'a str, method: &'static str) -> CorsRequest<'a> {
        CorsRequest {
            method,
            origin: Some(origin),
            authority: Some("duplex.example:8443"),
            ..CorsRequest::default()
        }
    }

    fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn no_origin_or_the_pages_own_is_not_checked() {
        let policy = listed(false);
        let no_origin = CorsRequest {
            method: "GET",
            ..CorsRequest::default()
        };
        assert_eq!(policy.decide(&no_origin), CorsDecision::SameOrigin);
        for own in ["https://duplex.example:8443", "HTTPS://Duplex.Example:8443"] {
            let own = CorsRequest {
                origin: Some(own),
                ..from("", "POST")
            };
            assert_eq!(policy.decide(&own), CorsDecision::SameOrigin, "{own:?}");
        }
        let default_port = CorsRequest {
            authority: Some("duplex.example"),
            ..from("https://duplex.example:443", "GET")
        };
        assert_eq!(policy.decide(&default_port), CorsDecision::SameOrigin);
        // Another host or port is another origin. (The scheme is not
        // compared: behind a TLS-terminating proxy the server cannot know it.)
        for other in [
            "https://duplex.example",
            "https://other.example:8443",
            "null",
        ] {
            assert!(matches!(
                policy.decide(&from(other, "GET")),
                CorsDecision::Refused(_)
            ));
        }
    }

    #[test]
    fn a_listed_origin_gets_the_headers_and_others_403() {
        let CorsDecision::Allowed(headers) =
            listed(true).decide(&from("https://app.example", "GET"))
        else {
            panic!("allowed");
        };
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            Some("https://app.example")
        );
        assert_eq!(
            header(&headers, "access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(
            header(&headers, "access-control-expose-headers"),
            Some(EXPOSED_HEADERS)
        );
        assert_eq!(header(&headers, "vary"), Some("origin"));
        let CorsDecision::Allowed(headers) =
            listed(false).decide(&from("https://app.example", "POST"))
        else {
            panic!("allowed");
        };
        assert_eq!(header(&headers, "access-control-allow-credentials"), None);
        let CorsDecision::Refused(refused) =
            listed(true).decide(&from("https://evil.example", "GET"))
        else {
            panic!("refused");
        };
        assert_eq!(
            (refused.code(), refused.status),
            (Code::OriginNotAllowed, 403)
        );
        assert!(!refused.fatal);
        assert_eq!(
            refused.to_string(),
            "origin https://evil.example is not allowed by the cors option"
        );
    }

    #[test]
    fn a_preflight_names_methods_headers_and_max_age() {
        let request = CorsRequest {
            request_headers: Some("http2-duplex-id, http2-duplex-seq"),
            ..from("https://app.example", "OPTIONS")
        };
        let CorsDecision::Preflight(headers) = listed(false).decide(&request) else {
            panic!("preflight");
        };
        assert_eq!(
            header(&headers, "access-control-allow-methods"),
            Some("GET, POST")
        );
        assert_eq!(
            header(&headers, "access-control-allow-headers"),
            Some("http2-duplex-id, http2-duplex-seq")
        );
        assert_eq!(header(&headers, "access-control-max-age"), Some("600"));
        let CorsDecision::Preflight(headers) =
            listed(false).decide(&from("https://app.example", "OPTIONS"))
        else {
            panic!("preflight");
        };
        assert_eq!(
            header(&headers, "access-control-allow-headers"),
            Some(ALLOWED_HEADERS)
        );
    }

    #[test]
    fn the_application_is_asked_only_for_foreign_origins() {
        let policy = CorsPolicy {
            origins: Origins::Application,
            check_origin: true,
            credentials: false,
            max_age: 0,
        };
        let foreign = from("https://app.example", "GET");
        assert_eq!(policy.decide(&foreign), CorsDecision::Ask);
        let yes = CorsRequest {
            application_allows: Some(true),
            ..foreign
        };
        assert!(matches!(policy.decide(&yes), CorsDecision::Allowed(_)));
        let no = CorsRequest {
            application_allows: Some(false),
            ..foreign
        };
        assert!(matches!(policy.decide(&no), CorsDecision::Refused(_)));
        let own = from("https://duplex.example:8443", "GET");
        assert_eq!(policy.decide(&own), CorsDecision::SameOrigin);
    }

    #[test]
    fn without_the_cors_option_only_non_browsers_and_the_pages_own_are_served() {
        let none = CorsPolicy {
            origins: Origins::Listed(HashSet::new()),
            check_origin: true,
            credentials: false,
            max_age: 600,
        };
        let no_origin = CorsRequest {
            method: "CONNECT",
            authority: Some("duplex.example:8443"),
            ..CorsRequest::default()
        };
        assert_eq!(none.decide(&no_origin), CorsDecision::SameOrigin);
        assert_eq!(
            none.decide(&from("https://duplex.example:8443", "CONNECT")),
            CorsDecision::SameOrigin
        );
        for foreign in [
            "https://evil.example",
            "null",
            "https://duplex.example:8444",
        ] {
            for method in ["GET", "POST", "CONNECT", "OPTIONS"] {
                let CorsDecision::Refused(refused) = none.decide(&from(foreign, method)) else {
                    panic!("{foreign} {method} refused");
                };
                assert_eq!(
                    (refused.code(), refused.status),
                    (Code::OriginNotAllowed, 403)
                );
            }
        }
        // Turned off, a foreign page is served as 6.x served it: no CORS headers.
        let off = CorsPolicy {
            check_origin: false,
            ..none
        };
        assert_eq!(
            off.decide(&from("https://evil.example", "CONNECT")),
            CorsDecision::SameOrigin
        );
        let listed_off = CorsPolicy {
            check_origin: false,
            ..listed(false)
        };
        assert!(matches!(
            listed_off.decide(&from("https://app.example", "GET")),
            CorsDecision::Allowed(_)
        ));
    }
}
