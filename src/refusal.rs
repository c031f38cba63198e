//! What crosses for a refused request or a broken duplex, and the small
//! conversions every bound class shares.

use std::collections::HashMap;

use http2_duplex_core as core;
use napi_derive::napi;

/// A refusal of the core: answer `status` (none for a reset stream) with
/// `code` in `http2-duplex-error`; warn unless `quiet`.
#[napi(object, object_from_js = false)]
pub struct Refusal {
    pub code: String,
    pub status: Option<u32>,
    pub message: String,
    pub quiet: bool,
}

impl From<&core::Rejection> for Refusal {
    fn from(rejection: &core::Rejection) -> Self {
        let code = rejection.code();
        Refusal {
            code: code.as_str().to_owned(),
            status: code.status().map(u32::from),
            message: rejection.to_string(),
            quiet: rejection.is_quiet(),
        }
    }
}

pub fn header_map(headers: Vec<(&'static str, String)>) -> HashMap<String, String> {
    headers
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

pub fn clamp_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}
