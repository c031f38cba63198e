//! The numeric options of the server, checked once at construction: each an
//! integer in its range, so that nothing wraps or rounds on its way in.

/// Largest integer a JS number holds exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
/// Largest delay of a Node timer and largest HTTP/2 window.
const MAX_I31: u64 = (1 << 31) - 1;

/// `(option, smallest, largest)` for every numeric option.
pub const NUMERIC_OPTIONS: [(&str, u64, u64); 19] = [
    ("close_timeout", 0, MAX_I31),
    ("keepalive_interval", 0, MAX_I31),
    ("idle_timeout", 0, MAX_I31),
    ("session_window", 0, MAX_I31),
    ("stream_window", 0, MAX_I31),
    ("max_duplexes_per_session", 1, MAX_I31),
    ("max_duplexes_per_connection", 1, MAX_I31),
    ("max_duplexes", 1, MAX_I31),
    ("window", 1, 65_536),
    ("window_bytes", 1, MAX_SAFE_INTEGER),
    ("max_held_bytes_per_session", 1, MAX_SAFE_INTEGER),
    ("max_held_bytes_per_connection", 1, MAX_SAFE_INTEGER),
    ("max_held_bytes", 1, MAX_SAFE_INTEGER),
    ("max_write_bytes", 1, MAX_SAFE_INTEGER),
    ("highWaterMark", 0, MAX_SAFE_INTEGER),
    ("resume_buffer", 0, MAX_SAFE_INTEGER),
    ("resume_timeout", 0, MAX_I31),
    ("max_resume_bytes_per_connection", 1, MAX_SAFE_INTEGER),
    ("max_resume_bytes", 1, MAX_SAFE_INTEGER),
];

/// Checks `value` for the numeric option `name`; `Err` says what is wrong.
/// Options not in the table are not ours to check.
pub fn check_option(name: &str, value: f64) -> Result<(), String> {
    let Some(&(_, min, max)) = NUMERIC_OPTIONS.iter().find(|(n, _, _)| *n == name) else {
        return Ok(());
    };
    if value.fract() == 0.0 && value >= min as f64 && value <= max as f64 {
        Ok(())
    } else {
        Err(format!(
            "option {name} must be an integer from {min} to {max}, got {value}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(check_option("window", 16.0), Ok(()));
        assert_eq!(check_option("unknown", -1.0), Ok(()));
        for (name, bad) in [
            ("window", 0.0),
            ("window", 1.5),
            ("max_write_bytes", 4_294_967_296.0 * 4_294_967_296.0),
            ("max_write_bytes", f64::NAN),
            ("idle_timeout", -1.0),
            ("close_timeout", f64::INFINITY),
        ] {
            let err = check_option(name, bad).unwrap_err();
            assert!(err.contains(name), "{err}");
        }
        assert_eq!(check_option("max_write_bytes", 4_294_967_296.0), Ok(()));
    }
}
