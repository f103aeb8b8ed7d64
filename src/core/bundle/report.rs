//! What a verification reports: the checks that passed, the first mismatch (field, expected,
//! found) and what could not be established; and the checks every artefact shares.

use serde::Serialize;
use serde_json::Value;

use super::{HexBytes, Outcome};
use crate::core::beacon::{self, BeaconRecord};
use crate::core::draw;
use crate::core::encode::Hash;
use crate::core::pool::Commitment;
use crate::core::secret::Secret;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub field: String,
    pub expected: String,
    pub found: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub kind: &'static str,
    pub valid: bool,
    /// What was recomputed and matched, in order.
    pub checks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<Mismatch>,
    /// Hex SHA-256 of the canonical result, recomputed (present when the result could be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// What this verification could not establish from the file it was given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<String>,
}

pub(super) struct Checker {
    pub(super) checks: Vec<String>,
    pub(super) mismatch: Option<Mismatch>,
    pub(super) limits: Vec<String>,
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

/// The path of the first place two JSON values differ, and the two values there.
fn first_difference(path: String, expected: &Value, found: &Value) -> Mismatch {
    match (expected, found) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let sub = format!("{path}.{k}");
                match b.get(k) {
                    Some(vb) if vb == va => {}
                    Some(vb) => return first_difference(sub, va, vb),
                    None => {
                        return Mismatch {
                            field: sub,
                            expected: short(va),
                            found: "(missing)".into(),
                        };
                    }
                }
            }
            let extra = b
                .keys()
                .find(|k| !a.contains_key(*k))
                .cloned()
                .unwrap_or_default();
            Mismatch {
                field: format!("{path}.{extra}"),
                expected: "(absent)".into(),
                found: short(&b[&extra]),
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                if va != vb {
                    return first_difference(format!("{path}[{i}]"), va, vb);
                }
            }
            Mismatch {
                field: format!("{path}.length"),
                expected: a.len().to_string(),
                found: b.len().to_string(),
            }
        }
        _ => Mismatch {
            field: path,
            expected: short(expected),
            found: short(found),
        },
    }
}

impl Checker {
    pub(super) fn new() -> Self {
        Self {
            checks: Vec::new(),
            mismatch: None,
            limits: Vec::new(),
        }
    }

    pub(super) fn ok(&self) -> bool {
        self.mismatch.is_none()
    }

    /// Records `what` when `expected == found`, else the first differing field.
    pub(super) fn eq<T: PartialEq + Serialize + ?Sized>(
        &mut self,
        what: &str,
        field: &str,
        expected: &T,
        found: &T,
    ) -> bool {
        if !self.ok() {
            return false;
        }
        if expected == found {
            if !what.is_empty() {
                self.checks.push(what.to_owned());
            }
            return true;
        }
        let (e, f) = (
            serde_json::to_value(expected).unwrap_or(Value::Null),
            serde_json::to_value(found).unwrap_or(Value::Null),
        );
        self.mismatch = Some(first_difference(field.to_owned(), &e, &f));
        false
    }

    pub(super) fn hash(&mut self, what: &str, field: &str, expected: &Hash, found: &Hash) -> bool {
        self.eq(what, field, &hex::encode(expected), &hex::encode(found))
    }

    pub(super) fn fail(
        &mut self,
        field: &str,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> bool {
        if self.ok() {
            self.mismatch = Some(Mismatch {
                field: field.into(),
                expected: expected.into(),
                found: found.into(),
            });
        }
        false
    }

    pub(super) fn report(
        self,
        kind: &'static str,
        result_digest: Option<Hash>,
        outcome: Option<Outcome>,
    ) -> Report {
        Report {
            kind,
            valid: self.mismatch.is_none(),
            checks: self.checks,
            mismatch: self.mismatch,
            result_digest: result_digest.map(hex::encode),
            outcome,
            limits: self.limits,
        }
    }
}

/// Checks protocol, commitment hash, secret and seed: what every artefact carries.
pub(super) fn check_seed(
    c: &mut Checker,
    task_id: &str,
    commitment: &Commitment,
    commitment_hash: &Hash,
    secret: &[u8],
    entropy: &[HexBytes],
    beacons: &[BeaconRecord],
) -> Hash {
    // Any version this verifier implements (parsing refused the others); each artefact is
    // checked by its own version's rules.
    if c.ok() {
        c.checks.push(format!("checked as {}", commitment.protocol));
    }
    c.eq(
        "task id matches the commitment",
        "commitment.task_id",
        task_id,
        commitment.task_id.as_str(),
    );
    c.hash(
        "commitment hash",
        "commitment_hash",
        &commitment.hash(),
        commitment_hash,
    );
    c.hash(
        "revealed secret matches the committed SHA-256",
        "secret",
        &commitment.secret_hash,
        &draw::secret_hash(secret),
    );
    if secret.len() < Secret::MIN_LEN {
        c.fail(
            "secret",
            format!("at least {} bytes", Secret::MIN_LEN),
            format!("{} bytes", secret.len()),
        );
    }
    let entropy: Vec<Vec<u8>> = entropy.iter().map(|e| e.0.clone()).collect();
    match beacon::check(&commitment.entropy_source, &entropy, beacons) {
        Ok(checked) => {
            if !checked.is_empty() {
                c.limits.push(
                    "that the drand round lay in the future when the commitment was published: \
                     compare its time with the commitment's entry in the transparency log"
                        .into(),
                );
            }
            c.checks.extend(checked)
        }
        Err(e) => {
            c.fail(
                "beacons",
                "a valid drand beacon for every announced round",
                e,
            );
        }
    }
    draw::derive_seed(commitment, secret, &entropy)
}
