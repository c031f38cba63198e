//! A duplex's resume secret.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// 128 random bits that prove a resume comes from the duplex's client.
/// On the wire: 22 characters of base64url without padding (header- and
/// URL-safe). Never printed by `Debug`, so that logs do not leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; 16]);

impl Secret {
    /// A fresh secret from the system's CSPRNG (two v4 UUIDs, through the
    /// `getrandom` they are made with).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        for half in bytes.chunks_exact_mut(8) {
            let random = uuid::Uuid::new_v4();
            let uuid = random.as_bytes();
            // Bytes 6 and 8 carry the version and variant bits; these 8 are
            // all random.
            for (to, from) in half.iter_mut().zip([0, 1, 2, 3, 4, 5, 7, 9]) {
                *to = uuid[from];
            }
        }
        Secret(bytes)
    }

    /// The wire form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Whether `presented` (a wire form, as the client sent it) is this
    /// secret. Takes the same time wherever the first difference is: a
    /// guesser learns nothing from how fast it is refused.
    pub fn matches(&self, presented: &str) -> bool {
        let mut decoded = [0u8; 16];
        let parsed = presented.len() == 22
            && URL_SAFE_NO_PAD
                .decode_slice(presented, &mut decoded)
                .is_ok_and(|n| n == 16);
        let difference = self
            .0
            .iter()
            .zip(decoded)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        parsed & (difference == 0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_random_and_matches_only_its_wire_form() {
        let secret = Secret::generate();
        let wire = secret.encode();
        assert_eq!(wire.len(), 22);
        assert!(wire
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(secret.matches(&wire));
        assert_ne!(Secret::generate(), secret);
        assert_eq!(format!("{secret:?}"), "Secret(..)");
        // One character off, truncated, padded, another alphabet, empty.
        let mut flipped = wire.clone().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let standard = base64::engine::general_purpose::STANDARD.encode(secret.0);
        for wrong in [
            flipped.as_str(),
            &wire[..21],
            &format!("{wire}=="),
            standard.as_str(),
            "",
        ] {
            assert!(!secret.matches(wrong), "{wrong:?}");
        }
        // A zero secret is not matched by garbage that fails to decode.
        assert!(!Secret([0; 16]).matches("!!!!!!!!!!!!!!!!!!!!!!"));
    }

    #[test]
    fn secrets_use_all_128_bits() {
        // Over 64 secrets, every bit is set in some and clear in others
        // (a fixed bit fails this with probability 1 - 2^-63).
        let secrets: Vec<[u8; 16]> = (0..64).map(|_| Secret::generate().0).collect();
        for byte in 0..16 {
            let ones = secrets.iter().fold(0u8, |acc, s| acc | s[byte]);
            let zeros = secrets.iter().fold(0u8, |acc, s| acc | !s[byte]);
            assert_eq!((ones, zeros), (0xff, 0xff), "byte {byte}");
        }
    }
}
