//! Values that must not leak before they are meant to: Debug and Display never show them.

use std::fmt;

use super::encode::Hash;

/// The draw secret: only its SHA-256 is public until the result is revealed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub const MIN_LEN: usize = 16;

    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < Self::MIN_LEN {
            return Err(format!(
                "a secret needs at least {} bytes of randomness, got {}",
                Self::MIN_LEN,
                bytes.len()
            ));
        }
        Ok(Self(bytes))
    }

    /// Deliberately named: every call site is a place where the secret is used or revealed.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Key of the per-object leaf salts. Never published: it keeps non-drawn objects' tiers private.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SaltKey(#[serde(with = "super::encode::hex32")] pub Hash);

impl fmt::Debug for SaltKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SaltKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_bytes() {
        let s = Secret::new(vec![0xab; 32]).unwrap();
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert!(!format!("{:?}", SaltKey([0xcd; 32])).contains("cd"));
        assert!(Secret::new(vec![1; 8]).is_err());
    }
}
