//! The publication key's signature over a drawn run: the statement it signs, signing with a
//! given key and checking a signature offline. Pure: where the key lives is the service's
//! business.

use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};

pub const ALGORITHM: &str = "ed25519";

/// A detached signature over `message`, which names what is signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub algorithm: String,
    pub public_key: String,
    pub message: String,
    pub signature: String,
}

/// What the publication key signs for a drawn run: the run, its commitment and its result
/// (which covers every replacement so far).
pub fn bundle_statement(
    run: &str,
    commitment_hash: &str,
    result_digest: &str,
    replacements: usize,
) -> String {
    format!(
        "double-random/v1 public bundle\nrun: {run}\ncommitment: {commitment_hash}\nresult: {result_digest}\nreplacements: {replacements}\n"
    )
}

/// The hex public half of `key`, as signatures and `GET /api/public/key` name it.
pub fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().as_bytes())
}

pub fn sign(key: &SigningKey, message: String) -> Signature {
    Signature {
        algorithm: ALGORITHM.into(),
        public_key: public_hex(key),
        signature: hex::encode(key.sign(message.as_bytes()).to_bytes()),
        message,
    }
}

/// Checks a signature against the public key it names, or `expected_key` if given.
pub fn check_signature(s: &Signature, expected_key: Option<&str>) -> Result<(), String> {
    if s.algorithm != ALGORITHM {
        return Err(format!("unknown signature algorithm {:?}", s.algorithm));
    }
    if let Some(k) = expected_key
        && !k.eq_ignore_ascii_case(&s.public_key)
    {
        return Err(format!(
            "signed by key {}, expected {k}",
            s.public_key.to_ascii_lowercase()
        ));
    }
    let key: [u8; 32] = hex::decode(&s.public_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("public_key is not 32 bytes of hex")?;
    let sig: [u8; 64] = hex::decode(&s.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("signature is not 64 bytes of hex")?;
    VerifyingKey::from_bytes(&key)
        .map_err(|e| format!("public key: {e}"))?
        .verify(
            s.message.as_bytes(),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| "the signature does not match the message and key".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_checks_and_an_altered_message_does_not() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let s = sign(&key, "double-random bundle\nrun: t\n".into());
        assert_eq!(check_signature(&s, Some(&public_hex(&key))), Ok(()));
        let mut altered = s.clone();
        altered.message.push('x');
        assert!(check_signature(&altered, None).is_err());
        assert!(check_signature(&s, Some(&"00".repeat(32))).is_err());
    }
}
