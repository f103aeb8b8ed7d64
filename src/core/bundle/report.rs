//! What a verification reports: the checks that passed, the first mismatch (field, expected,
//! found) and what could not be established; and the checks every artefact shares.

use serde::Serialize;
use serde_json::Value;

use super::{HexBytes, Outcome};
use crate::core::beacon::{self, BeaconRecord};
use crate::core::draw;
use crate::core::encode::Hash;
use crate::core::entropy::{self, WARN_BITS};
use crate::core::policy::Policy;
use crate::core::pool::Commitment;
use crate::core::secret::Secret;
use crate::core::{CoreError, Protocol};

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
    /// The rules the artefact was checked by (its commitment's protocol).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// v2: the announced sources' total min-entropy (draw-spec §7.6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entropy_bits: Option<u32>,
    /// What holds but weakens the guarantee (e.g. little entropy: draw-spec §1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

pub(super) struct Checker {
    pub(super) checks: Vec<String>,
    pub(super) mismatch: Option<Mismatch>,
    pub(super) limits: Vec<String>,
    protocol: Option<Protocol>,
    entropy_bits: Option<u32>,
    warnings: Vec<String>,
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
            protocol: None,
            entropy_bits: None,
            warnings: Vec::new(),
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
            protocol: self.protocol,
            entropy_bits: self.entropy_bits,
            warnings: self.warnings,
        }
    }
}

/// A task id as draw-spec §3.5 allows it: 1 to 128 bytes, no control character, no white
/// space around it. Every verifier checks it (§13 step 2).
pub(crate) fn check_task_id(task_id: &str) -> Result<(), CoreError> {
    if task_id.is_empty()
        || task_id.len() > 128
        || task_id.trim() != task_id
        || task_id.chars().any(char::is_control)
    {
        return Err(CoreError::Input(format!(
            "task id {task_id:?} must be 1 to 128 bytes without control characters or surrounding spaces"
        )));
    }
    Ok(())
}

/// What the grinding bound means for `bits` of min-entropy (draw-spec §1).
pub fn weak_entropy_warning(bits: u32) -> String {
    let what = match bits {
        0 => "the authority could have chosen the draw outright among every secret it tried".into(),
        b if b < 64 => format!(
            "an authority that tried many secrets or salt keys before committing could have \
             steered the draw (about 2^-{} per 2^g tries, times sqrt(g): draw-spec §1 has the table)",
            b / 2
        ),
        b => format!(
            "an authority that tried 2^g secrets could shift an outcome's chance by about \
             sqrt(g)·2^-{}: negligible for any feasible g, but under the {WARN_BITS} bits this \
             protocol asks for (draw-spec §1)",
            b / 2
        ),
    };
    format!("the announced entropy has {bits} bits of min-entropy, under {WARN_BITS}: {what}")
}

/// A v1 policy has no `[replacements]` table: its caps would be bound by no hash.
pub(super) fn check_caps_field(c: &mut Checker, protocol: Protocol, policy: &Policy) {
    if protocol == Protocol::V1 && policy.replacements.is_some() {
        c.fail(
            "policy.replacements",
            format!("absent ({protocol} has no replacement caps)"),
            "present",
        );
    }
}

/// Checks protocol, task id, commitment hash, secret, the entropy against its announcement,
/// and returns the seed: what every artefact carries (draw-spec §13 step 2).
pub(super) fn check_seed(
    c: &mut Checker,
    task_id: &str,
    commitment: &Commitment,
    commitment_hash: &Hash,
    secret: &[u8],
    entropy: &[HexBytes],
    beacons: &[BeaconRecord],
) -> Hash {
    let protocol = commitment.protocol;
    c.protocol = Some(protocol);
    c.checks.push(format!("checked as {protocol}"));
    if let Err(e) = check_task_id(task_id) {
        c.fail(
            "task_id",
            "a task id as draw-spec §3.5 allows",
            e.to_string(),
        );
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
    match protocol {
        Protocol::V1 => check_v1_entropy(c, commitment, &entropy, beacons),
        Protocol::V2 => check_v2_entropy(c, commitment, &entropy, beacons),
    }
    draw::derive_seed(commitment, secret, &entropy)
}

const FUTURE_LIMIT: &str = "that the drand round lay in the future when the commitment was \
     published: compare its time with the commitment's entry in the transparency log";

/// v1: the text's drand lines bind their values (§20.3); other values are unconstrained.
fn check_v1_entropy(
    c: &mut Checker,
    commitment: &Commitment,
    entropy: &[Vec<u8>],
    beacons: &[BeaconRecord],
) {
    if !commitment.entropy_sources.is_empty() || commitment.allow_weak_entropy {
        c.fail(
            "commitment.entropy_sources",
            "absent in a double-random/v1 commitment",
            "present",
        );
        return;
    }
    match beacon::check(&commitment.entropy_source, entropy, beacons) {
        Ok(checked) => {
            if !checked.is_empty() {
                c.limits.push(FUTURE_LIMIT.into());
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
}

/// v2: one value per announced source, in its form; 64 bits unless allowed weak (§7.6).
fn check_v2_entropy(
    c: &mut Checker,
    commitment: &Commitment,
    entropy: &[Vec<u8>],
    beacons: &[BeaconRecord],
) {
    let sources = &commitment.entropy_sources;
    let bits =
        match entropy::check_announcement(sources, commitment.allow_weak_entropy).and_then(|bits| {
            entropy::check_description(&commitment.entropy_source, sources).map(|()| bits)
        }) {
            Ok(bits) => bits,
            Err(e) => {
                c.fail(
                    "commitment.entropy_sources",
                    "at least one valid source, 64 bits unless allow_weak_entropy",
                    e,
                );
                return;
            }
        };
    c.entropy_bits = Some(bits);
    match entropy::check(sources, entropy, beacons) {
        Ok(checked) => {
            c.checks.extend(checked);
            c.checks.push(format!(
                "entropy: {} source(s), {bits} bits of min-entropy{}",
                sources.len(),
                if commitment.allow_weak_entropy {
                    " (the task allowed weak entropy)"
                } else {
                    ""
                }
            ));
            if sources
                .iter()
                .any(|s| matches!(s, entropy::EntropySource::Drand { .. }))
            {
                c.limits.push(FUTURE_LIMIT.into());
            }
            if bits < WARN_BITS {
                c.warnings.push(weak_entropy_warning(bits));
            }
        }
        Err(e) => {
            c.fail(
                "entropy",
                "exactly one value per announced source, in its declared form",
                e,
            );
        }
    }
}
