//! Auditor attestations (draw-spec §21): an independent office that checked a full bundle signs,
//! with its own Ed25519 key, a statement binding the run, its commitment hash and its result
//! digest. The public cannot check completeness (that the drawn objects are the smallest
//! tickets, that tiers and exclusions are right); an attestation says who did. Pure: signing
//! takes the key, and whether a key is a registered auditor is the caller's question.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::encode::Hash;

pub const FORMAT: &str = "double-random/attestation/v2";

/// Why an attestation is not one for what it claims.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error("format is {0:?}, not {FORMAT:?}")]
    Format(String),
    #[error("{field} is not {what} of hex")]
    Hex {
        field: &'static str,
        what: &'static str,
    },
    #[error("auditor_key is not an Ed25519 public key")]
    Key,
    #[error("the signature does not verify with auditor key {0}")]
    Signature(String),
    #[error("it attests {got}: not this bundle ({want})")]
    Other {
        got: Box<Subject>,
        want: Box<Subject>,
    },
}

/// What an attestation is about: a run's commitment and its result (which covers every
/// replacement so far, so a later replacement needs a new attestation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub run: String,
    pub commitment_hash: Hash,
    pub result_digest: Hash,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {}, commitment {}, result {}",
            self.run,
            hex::encode(self.commitment_hash),
            hex::encode(self.result_digest)
        )
    }
}

impl Subject {
    /// The UTF-8 text the auditor signs.
    pub fn statement(&self) -> String {
        format!(
            "double-random/v2 attestation\nrun: {}\ncommitment: {}\nresult: {}\n",
            self.run,
            hex::encode(self.commitment_hash),
            hex::encode(self.result_digest)
        )
    }
}

/// A signed attestation as exchanged (JSON, fields in this order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub format: String,
    pub run: String,
    /// Hex SHA-256.
    pub commitment_hash: String,
    /// Hex SHA-256.
    pub result_digest: String,
    /// Hex Ed25519 public key of the auditor.
    pub auditor_key: String,
    /// Hex Ed25519 signature of the statement (`Subject::statement`).
    pub signature: String,
    /// Who the auditor says it is (not signed: the registry names the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn hex_array<const N: usize>(
    v: &str,
    field: &'static str,
    what: &'static str,
) -> Result<[u8; N], AttestationError> {
    hex::decode(v)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(AttestationError::Hex { field, what })
}

/// The attestation of `subject` by `key`.
pub fn sign(key: &SigningKey, subject: &Subject, name: Option<String>) -> Attestation {
    Attestation {
        format: FORMAT.into(),
        run: subject.run.clone(),
        commitment_hash: hex::encode(subject.commitment_hash),
        result_digest: hex::encode(subject.result_digest),
        auditor_key: hex::encode(key.verifying_key().as_bytes()),
        signature: hex::encode(key.sign(subject.statement().as_bytes()).to_bytes()),
        name,
    }
}

impl Attestation {
    /// The subject it claims.
    pub fn subject(&self) -> Result<Subject, AttestationError> {
        Ok(Subject {
            run: self.run.clone(),
            commitment_hash: hex_array(&self.commitment_hash, "commitment_hash", "32 bytes")?,
            result_digest: hex_array(&self.result_digest, "result_digest", "32 bytes")?,
        })
    }

    /// The auditor's key (lower-case hex), the one a registry names.
    pub fn key(&self) -> Result<[u8; 32], AttestationError> {
        hex_array(&self.auditor_key, "auditor_key", "32 bytes")
    }

    /// The format is known and the signature is the key's over the subject's statement.
    /// Returns the subject.
    pub fn verify(&self) -> Result<Subject, AttestationError> {
        if self.format != FORMAT {
            return Err(AttestationError::Format(self.format.clone()));
        }
        let subject = self.subject()?;
        let key = VerifyingKey::from_bytes(&self.key()?).map_err(|_| AttestationError::Key)?;
        let sig: [u8; 64] = hex_array(&self.signature, "signature", "64 bytes")?;
        key.verify_strict(
            subject.statement().as_bytes(),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| AttestationError::Signature(self.auditor_key.to_ascii_lowercase()))?;
        Ok(subject)
    }

    /// `verify`, and the subject is `want`.
    pub fn verify_for(&self, want: &Subject) -> Result<(), AttestationError> {
        let got = self.verify()?;
        if &got != want {
            return Err(AttestationError::Other {
                got: Box::new(got),
                want: Box::new(want.clone()),
            });
        }
        Ok(())
    }
}

/// A hex Ed25519 public key as registries and options give it, checked and lower-cased.
pub fn parse_key(v: &str) -> Result<String, AttestationError> {
    let key: [u8; 32] = hex_array(v.trim(), "key", "32 bytes")?;
    VerifyingKey::from_bytes(&key).map_err(|_| AttestationError::Key)?;
    Ok(hex::encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            run: "demo-2026-01.20261129T000000".into(),
            commitment_hash: [1; 32],
            result_digest: [2; 32],
        }
    }

    #[test]
    fn an_attestation_verifies_for_its_subject_only() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let a = sign(&key, &subject(), Some("审计局".into()));
        assert_eq!(a.verify_for(&subject()), Ok(()));
        assert!(
            subject()
                .statement()
                .starts_with("double-random/v2 attestation\nrun: demo")
        );
        let mut other = subject();
        other.result_digest = [3; 32];
        assert!(matches!(
            a.verify_for(&other),
            Err(AttestationError::Other { .. })
        ));
        // The claim edited to another result: the signature no longer holds.
        let mut forged = a.clone();
        forged.result_digest = hex::encode([3; 32]);
        assert!(matches!(
            forged.verify_for(&other),
            Err(AttestationError::Signature(_))
        ));
        // Another key's name on it.
        let mut borrowed = a.clone();
        borrowed.auditor_key =
            hex::encode(SigningKey::from_bytes(&[6; 32]).verifying_key().as_bytes());
        assert!(borrowed.verify().is_err());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Attestation>(&json).unwrap(), a);
    }
}
