//! Replacement requests (补抽) and what binds them (draw-spec §10): the reason codes a request
//! must carry in v2, its encoding in the result, and the policy's caps, so that replacements
//! cannot become a veto over who is inspected or walk a team slot to a preferred inspector.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Protocol;
use super::encode::Encoder;
use super::model::{InspectorId, ObjectId};

macro_rules! reason_codes {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal, $zh:literal;)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            pub const ALL: &[$name] = &[$(Self::$variant,)*];

            /// The code as written in JSON and hashed in the result (draw-spec §11).
            pub fn code(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            /// The category as officers write it.
            pub fn label(self) -> &'static str {
                match self {
                    $(Self::$variant => $zh,)*
                }
            }

            pub fn parse(s: &str) -> Result<Self, String> {
                Self::ALL.iter().copied().find(|c| c.code() == s).ok_or_else(|| {
                    format!(
                        "unknown reason code {s:?} (one of: {})",
                        Self::ALL.iter().map(|c| c.code()).collect::<Vec<_>>().join(", ")
                    )
                })
            }
        }
    };
}

reason_codes! {
    /// Why a drawn object is replaced: the result categories officers already record.
    ObjectReason {
        Deregistered = "deregistered", "注销";
        Revoked = "revoked", "被吊销";
        Cancelled = "cancelled", "被撤销";
        MovedOut = "moved_out", "迁出";
        Unreachable = "unreachable", "通过登记的住所（经营场所）无法联系";
        ClosedOrLiquidating = "closed_or_liquidating", "已关闭停业或正在清算";
        InspectedInJointTask = "inspected_in_joint_task", "同一联合抽查任务中已由其他部门检查";
        Other = "other", "其他";
    }
}

reason_codes! {
    /// Why an inspector recuses from one object (回避).
    RecusalReason {
        DeclaredConflict = "declared_conflict", "申报的利害关系";
        Kinship = "kinship", "亲属关系";
        PriorInvolvement = "prior_involvement", "曾参与相关处理";
        Other = "other", "其他";
    }
}

/// Caps on replacements (draw-spec §5, §10), so a run of replacements cannot become a veto
/// over who is inspected, or walk a team slot until a preferred inspector comes up. v2 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplacementCaps {
    /// Object replacements per run, in basis points of the total sample (at least 1 allowed).
    #[serde(default = "default_object_cap_bp")]
    pub object_cap_bp: u32,
    /// Recusals per team slot of one object.
    #[serde(default = "default_recusals_per_slot")]
    pub recusals_per_slot: u32,
}

impl Default for ReplacementCaps {
    fn default() -> Self {
        Self {
            object_cap_bp: default_object_cap_bp(),
            recusals_per_slot: default_recusals_per_slot(),
        }
    }
}

impl ReplacementCaps {
    /// Most object replacements in a run whose samples add up to `total_sample`:
    /// max(1, floor(total_sample · bp / 10000)).
    pub fn object_cap(&self, total_sample: u64) -> u64 {
        (u128::from(total_sample) * u128::from(self.object_cap_bp) / 10_000).max(1) as u64
    }
}

fn default_object_cap_bp() -> u32 {
    500
}

fn default_recusals_per_slot() -> u32 {
    2
}

/// A replacement asked for after the draw. The replacement itself is never chosen by hand.
/// `reason_code` is required in v2 and absent in v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplacementRequest {
    /// A drawn object proved ineligible (closed, moved out, …).
    Object {
        object: ObjectId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason_code: Option<ObjectReason>,
        reason: String,
    },
    /// An inspector must recuse from one object.
    Inspector {
        object: ObjectId,
        inspector: InspectorId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason_code: Option<RecusalReason>,
        reason: String,
    },
}

impl ReplacementRequest {
    pub fn object(&self) -> &ObjectId {
        match self {
            Self::Object { object, .. } | Self::Inspector { object, .. } => object,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::Object { reason, .. } | Self::Inspector { reason, .. } => reason,
        }
    }

    fn code(&self) -> Option<&'static str> {
        match self {
            Self::Object { reason_code, .. } => reason_code.map(ObjectReason::code),
            Self::Inspector { reason_code, .. } => reason_code.map(RecusalReason::code),
        }
    }

    /// A request is well formed for its protocol: a non-blank reason, and a reason code
    /// exactly in v2.
    pub fn check(&self, protocol: Protocol) -> Result<(), String> {
        if self.reason().trim().is_empty() {
            return Err("a replacement needs a recorded reason".into());
        }
        match (protocol, self.code()) {
            (Protocol::V1, Some(code)) => Err(format!(
                "reason code {code:?} is not part of {} (it has no reason codes)",
                Protocol::V1
            )),
            (Protocol::V2, None) => Err(format!(
                "a reason code is required ({}: one of {})",
                match self {
                    Self::Object { .. } => "object replacement",
                    Self::Inspector { .. } => "recusal",
                },
                match self {
                    Self::Object { .. } => ObjectReason::ALL
                        .iter()
                        .map(|c| c.code())
                        .collect::<Vec<_>>(),
                    Self::Inspector { .. } => RecusalReason::ALL
                        .iter()
                        .map(|c| c.code())
                        .collect::<Vec<_>>(),
                }
                .join(", ")
            )),
            _ => Ok(()),
        }
    }

    /// The request's part of the result encoding (draw-spec §11): v1 `u8(kind) ‖ lp(object) ‖
    /// lp(inspector or "") ‖ lp(reason)`; v2 puts `lp(reason_code)` before `lp(reason)`.
    pub fn encode_to(&self, protocol: Protocol, e: &mut Encoder) {
        match self {
            Self::Object { object, .. } => e.u8(0).str(object.as_str()).str(""),
            Self::Inspector {
                object, inspector, ..
            } => e.u8(1).str(object.as_str()).str(inspector.as_str()),
        };
        if protocol == Protocol::V2 {
            e.str(self.code().unwrap_or(""));
        }
        e.str(self.reason());
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacementRecord {
    pub request: ReplacementRequest,
    /// The object (object replacement) or inspector (recusal) that came in.
    pub replacement: String,
    /// The full team of the affected object afterwards.
    pub inspectors: Vec<InspectorId>,
}

/// The replacements of a run counted against the policy's caps (v2; v1 has no caps).
pub struct Tally {
    protocol: Protocol,
    object_cap: u64,
    recusal_cap: u32,
    objects: u64,
    /// (object index, slot) → recusals so far.
    recusals: BTreeMap<(u32, u32), u32>,
}

impl Tally {
    pub fn new(protocol: Protocol, caps: ReplacementCaps, total_sample: u64) -> Self {
        Self {
            protocol,
            object_cap: caps.object_cap(total_sample),
            recusal_cap: caps.recusals_per_slot,
            objects: 0,
            recusals: BTreeMap::new(),
        }
    }

    /// Counts one more object replacement; refused over the cap.
    pub fn object(&mut self) -> Result<(), String> {
        if self.protocol == Protocol::V2 && self.objects >= self.object_cap {
            return Err(format!(
                "over the cap on object replacements: {} already made, the policy allows {} \
                 (replacements.object_cap_bp of the total sample, at least 1)",
                self.objects, self.object_cap
            ));
        }
        self.objects += 1;
        Ok(())
    }

    /// Counts one more recusal on `slot` of `object` and returns its number for that slot
    /// (0 for the first); refused over the cap.
    pub fn recusal(&mut self, object: &ObjectId, index: u32, slot: u32) -> Result<u32, String> {
        let n = self.recusals.entry((index, slot)).or_insert(0);
        if self.protocol == Protocol::V2 && *n >= self.recusal_cap {
            return Err(format!(
                "over the cap on recusals: slot {slot} of {object} already had {n}, the policy \
                 allows {} (replacements.recusals_per_slot)",
                self.recusal_cap
            ));
        }
        *n += 1;
        Ok(*n - 1)
    }

    /// "N object replacements (cap C), at most R recusals on one slot (cap P)".
    pub fn summary(&self) -> String {
        format!(
            "{} object replacement(s) (cap {}), at most {} recusal(s) on one team slot (cap {})",
            self.objects,
            self.object_cap,
            self.recusals.values().max().copied().unwrap_or(0),
            self.recusal_cap
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_name_the_list() {
        for c in ObjectReason::ALL {
            assert_eq!(ObjectReason::parse(c.code()), Ok(*c));
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.code()));
        }
        for c in RecusalReason::ALL {
            assert_eq!(RecusalReason::parse(c.code()), Ok(*c));
        }
        let err = ObjectReason::parse("closed").unwrap_err();
        assert!(err.contains("closed_or_liquidating"), "{err}");
    }

    #[test]
    fn the_object_cap_is_five_percent_and_at_least_one() {
        let caps = ReplacementCaps::default();
        assert_eq!(caps.object_cap(0), 1);
        assert_eq!(caps.object_cap(39), 1);
        assert_eq!(caps.object_cap(40), 2);
        assert_eq!(caps.object_cap(1000), 50);
    }
}
