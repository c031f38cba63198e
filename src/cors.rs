//! `CorsPolicy`: the origin check and the `cors` option, decided by the core.

use std::collections::HashMap;

use http2_duplex_core as core;
use napi_derive::napi;

use crate::refusal::{header_map, Refusal};

/// The core's answer for one request.
#[napi(
    discriminant = "kind",
    discriminant_case = "kebab-case",
    object_from_js = false
)]
pub enum CorsAnswer {
    /// No `origin`, or the page's own: nothing to add.
    SameOrigin,
    /// Ask the application, then decide again with its answer.
    Ask,
    /// `headers` go on every answer to the request.
    Allowed {
        headers: HashMap<String, String>,
    },
    /// Answer 204 with `headers`.
    Preflight {
        headers: HashMap<String, String>,
    },
    Refused {
        refusal: Refusal,
    },
}

#[napi(js_name = "CorsPolicy")]
pub struct JsCorsPolicy {
    inner: core::cors::CorsPolicy,
}

#[napi]
impl JsCorsPolicy {
    /// `origins`: the allowed origins, or null when the application decides.
    #[napi(constructor)]
    pub fn new(
        origins: Option<Vec<String>>,
        check_origin: bool,
        credentials: bool,
        max_age: f64,
    ) -> Self {
        JsCorsPolicy {
            inner: core::cors::CorsPolicy {
                origins: match origins {
                    Some(listed) => core::cors::Origins::Listed(listed.into_iter().collect()),
                    None => core::cors::Origins::Application,
                },
                check_origin,
                credentials,
                max_age: max_age as u64,
            },
        }
    }

    #[napi]
    pub fn decide(
        &self,
        method: String,
        origin: Option<String>,
        authority: Option<String>,
        request_headers: Option<String>,
        application_allows: Option<bool>,
    ) -> CorsAnswer {
        use core::cors::CorsDecision;
        let request = core::cors::CorsRequest {
            method: &method,
            origin: origin.as_deref(),
            authority: authority.as_deref(),
            request_headers: request_headers.as_deref(),
            application_allows,
        };
        match self.inner.decide(&request) {
            CorsDecision::SameOrigin => CorsAnswer::SameOrigin,
            CorsDecision::Ask => CorsAnswer::Ask,
            CorsDecision::Allowed(headers) => CorsAnswer::Allowed {
                headers: header_map(headers),
            },
            CorsDecision::Preflight(headers) => CorsAnswer::Preflight {
                headers: header_map(headers),
            },
            CorsDecision::Refused(refused) => CorsAnswer::Refused {
                refusal: Refusal::from(&refused),
            },
        }
    }
}
