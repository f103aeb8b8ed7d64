//! The draw policy: tiers and their ratios/counts/weights, scope, cooldown, inspector rules.
//! `PolicyFile` is what people write (TOML) and what bundles carry; `Policy` is the validated form.
//! Over 600 lines because the spec's validation (§5.3) and encoding (§5.4) of every field stay
//! together, in the spec's order, with their tests.

pub use super::ratio::{format_ratio, parse_ratio};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::encode::{Encoder, Hash};
use super::model::date_bytes;
pub use super::replacement::ReplacementCaps;
use super::{CoreError, Protocol};

pub const MAX_WEIGHT: u64 = 1_000_000;
/// Largest weighted-mode sample: bounds the work any bundle can ask of a verifier.
pub const MAX_TOTAL: u64 = 100_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Per-tier sampling ratio.
    Ratio,
    /// A fixed number per tier.
    Count,
    /// One total sample size, tiers weighted (successive sampling without replacement).
    Weighted,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Ceiling: the promised ratio is a floor (national minimum), so never draw fewer.
    #[default]
    Up,
    Down,
    /// Half away from zero.
    Nearest,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionRule {
    #[default]
    Any,
    /// Inspectors from the object's own region.
    Same,
    /// Inspectors from any other region (deliberate cross-area checks).
    Cross,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CooldownAction {
    Exclude,
    /// Recently inspected objects form their own stratum with ratio or weight scaled by `percent`.
    Downweight,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierScheme {
    /// 鄂州政办发〔2021〕29号 item 5: good standing, then 1, 2, 3, more than 3 penalties (or blacklisted).
    #[default]
    Penalty,
    /// SAMR risk classes A (low) to D (high).
    Abcd,
}

impl TierScheme {
    /// The scheme's tier names, lowest risk first.
    pub fn tier_names(self) -> impl Iterator<Item = &'static str> {
        self.defaults().iter().map(|&(name, ..)| name)
    }

    /// Default tiers with their ratio (basis points) and weight.
    fn defaults(self) -> &'static [(&'static str, u32, u64)] {
        match self {
            Self::Penalty => &[
                ("good", 300, 1),
                ("notice", 500, 2),
                ("watch", 1000, 3),
                ("warning", 2000, 5),
                ("focus", 5000, 10),
            ],
            Self::Abcd => &[
                ("A", 500, 1),
                ("B", 2000, 4),
                ("C", 6000, 12),
                ("D", 10000, 20),
            ],
        }
    }
}

/// One tier as written in a policy file. Which of ratio/count/weight is required depends on the mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub industries: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cooldown {
    pub days: u32,
    pub action: CooldownAction,
    /// With `downweight`: the cooled stratum's ratio or weight as a percentage of its tier's (1..=100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectorRules {
    #[serde(default = "default_per_object")]
    pub per_object: u32,
    /// Lead department first, then participating departments (joint task: one inspector from each).
    pub departments: Vec<String>,
    #[serde(default)]
    pub region_rule: RegionRule,
    /// Every drawn inspector must hold this specialty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialty: Option<String>,
    /// Most objects one inspector gets in this draw (an inspector's own `max_load` may be lower).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_load: Option<u32>,
    /// Do not send the inspectors of the object's previous inspection again.
    #[serde(default = "yes")]
    pub exclude_previous: bool,
}

fn default_per_object() -> u32 {
    2
}

fn yes() -> bool {
    true
}

/// The policy as written in `policy.toml` and carried in bundles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub draw_date: NaiveDate,
    pub mode: Mode,
    #[serde(default)]
    pub rounding: Rounding,
    /// Total sample size, `weighted` mode only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(default)]
    pub tier_scheme: TierScheme,
    /// Tiers from lowest to highest risk; when empty, the scheme's defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierFile>,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Cooldown>,
    pub inspectors: InspectorRules,
    /// v2: caps on replacements; absent means the defaults. A v1 policy has no such table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacements: Option<ReplacementCaps>,
}

/// A validated tier rule. `ratio_bp` is in basis points (1/10000).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tier {
    pub name: String,
    pub ratio_bp: u32,
    pub count: u64,
    pub weight: u64,
    pub min: u64,
    pub max: Option<u64>,
}

/// A validated policy: every field the draw reads has been checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyFile", into = "PolicyFile")]
pub struct Policy {
    pub draw_date: NaiveDate,
    pub mode: Mode,
    pub rounding: Rounding,
    pub total: u64,
    pub tier_scheme: TierScheme,
    pub tiers: Vec<Tier>,
    pub scope: Scope,
    pub cooldown: Option<Cooldown>,
    pub inspectors: InspectorRules,
    /// As written: `None` when the policy has no `[replacements]` table (v2 then uses the defaults).
    pub replacements: Option<ReplacementCaps>,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> CoreError {
    CoreError::BadPolicy {
        field: field.into(),
        reason: reason.into(),
    }
}

impl TryFrom<PolicyFile> for Policy {
    type Error = CoreError;

    fn try_from(f: PolicyFile) -> Result<Self, CoreError> {
        let tier_files: Vec<TierFile> = if f.tiers.is_empty() {
            f.tier_scheme
                .defaults()
                .iter()
                .map(|&(name, bp, weight)| TierFile {
                    name: name.into(),
                    ratio: Some(format_ratio(bp)),
                    count: None,
                    weight: Some(weight),
                    min: 0,
                    max: None,
                })
                .collect()
        } else {
            f.tiers
        };
        let mut tiers = Vec::with_capacity(tier_files.len());
        for (i, t) in tier_files.iter().enumerate() {
            let field = |name: &str| format!("tiers[{i}].{name}");
            if t.name.trim().is_empty() || t.name.trim() != t.name {
                return Err(bad(
                    field("name"),
                    "must be non-empty without surrounding spaces",
                ));
            }
            if tier_files[..i].iter().any(|o| o.name == t.name) {
                return Err(bad(
                    field("name"),
                    format!("tier {:?} is listed twice", t.name),
                ));
            }
            let ratio_bp = match (&t.ratio, f.mode) {
                (Some(r), _) => parse_ratio(r).map_err(|e| bad(field("ratio"), e))?,
                (None, Mode::Ratio) => {
                    return Err(bad(
                        field("ratio"),
                        "ratio mode needs a ratio for each tier",
                    ));
                }
                (None, _) => 0,
            };
            let count = match (t.count, f.mode) {
                (Some(c), _) => c,
                (None, Mode::Count) => {
                    return Err(bad(
                        field("count"),
                        "count mode needs a count for each tier",
                    ));
                }
                (None, _) => 0,
            };
            let weight = match (t.weight, f.mode) {
                (Some(w), Mode::Weighted) if !(1..=MAX_WEIGHT).contains(&w) => {
                    return Err(bad(
                        field("weight"),
                        format!("must be 1..={MAX_WEIGHT}: no tier is exempt from sampling"),
                    ));
                }
                (Some(w), _) => w,
                (None, Mode::Weighted) => {
                    return Err(bad(
                        field("weight"),
                        "weighted mode needs a weight for each tier",
                    ));
                }
                (None, _) => 0,
            };
            if f.mode != Mode::Ratio && (t.min != 0 || t.max.is_some()) {
                let which = if t.min != 0 { "min" } else { "max" };
                return Err(bad(field(which), "min and max apply to ratio mode only"));
            }
            if let Some(max) = t.max {
                if max < t.min {
                    return Err(bad(
                        field("max"),
                        format!("max {max} is below min {}", t.min),
                    ));
                }
            }
            tiers.push(Tier {
                name: t.name.clone(),
                ratio_bp,
                count,
                weight,
                min: t.min,
                max: t.max,
            });
        }
        if tiers.is_empty() {
            return Err(bad("tiers", "at least one tier is needed"));
        }
        let total = match (f.mode, f.total) {
            (Mode::Weighted, Some(n)) if n > MAX_TOTAL => {
                return Err(bad(
                    "total",
                    format!("at most {MAX_TOTAL} objects in one draw"),
                ));
            }
            (Mode::Weighted, Some(n)) => n,
            (Mode::Weighted, None) => {
                return Err(bad("total", "weighted mode needs a total sample size"));
            }
            (_, Some(_)) => return Err(bad("total", "only weighted mode takes a total")),
            (_, None) => 0,
        };
        if let Some(c) = &f.cooldown {
            match (c.action, c.percent) {
                (CooldownAction::Downweight, Some(p)) if (1..=100).contains(&p) => {
                    if f.mode == Mode::Count {
                        return Err(bad(
                            "cooldown.action",
                            "count mode cannot down-weight; use \"exclude\"",
                        ));
                    }
                }
                (CooldownAction::Downweight, _) => {
                    return Err(bad(
                        "cooldown.percent",
                        "downweight needs a percent in 1..=100",
                    ));
                }
                (CooldownAction::Exclude, Some(_)) => {
                    return Err(bad("cooldown.percent", "only downweight takes a percent"));
                }
                (CooldownAction::Exclude, None) => {}
            }
        }
        if !(1900..=9999).contains(&f.draw_date.year()) {
            return Err(bad("draw_date", "must be a year from 1900 to 9999"));
        }
        let ins = &f.inspectors;
        if ins.per_object == 0 {
            return Err(bad(
                "inspectors.per_object",
                "at least 1 inspector per object (the rules ask for 2)",
            ));
        }
        if ins.departments.is_empty() {
            return Err(bad("inspectors.departments", "name the lead department"));
        }
        if let Some((i, d)) = ins
            .departments
            .iter()
            .enumerate()
            .find(|(i, d)| ins.departments[..*i].contains(d))
        {
            return Err(bad(
                format!("inspectors.departments[{i}]"),
                format!("{d:?} is listed twice"),
            ));
        }
        if (ins.per_object as usize) < ins.departments.len() {
            return Err(bad(
                "inspectors.per_object",
                format!(
                    "a joint task with {} departments needs at least that many inspectors per object",
                    ins.departments.len()
                ),
            ));
        }
        if ins.max_load == Some(0) {
            return Err(bad("inspectors.max_load", "must be at least 1"));
        }
        if f.replacements.is_some_and(|r| r.object_cap_bp > 10_000) {
            return Err(bad(
                "replacements.object_cap_bp",
                "at most 10000 (100% of the sample)",
            ));
        }
        Ok(Policy {
            draw_date: f.draw_date,
            mode: f.mode,
            rounding: f.rounding,
            total,
            tier_scheme: f.tier_scheme,
            tiers,
            scope: f.scope,
            cooldown: f.cooldown,
            inspectors: f.inspectors,
            replacements: f.replacements,
        })
    }
}

impl From<Policy> for PolicyFile {
    fn from(p: Policy) -> Self {
        let tiers = p
            .tiers
            .iter()
            .map(|t| TierFile {
                name: t.name.clone(),
                ratio: (p.mode == Mode::Ratio || t.ratio_bp != 0).then(|| format_ratio(t.ratio_bp)),
                count: (p.mode == Mode::Count || t.count != 0).then_some(t.count),
                weight: (p.mode == Mode::Weighted || t.weight != 0).then_some(t.weight),
                min: t.min,
                max: t.max,
            })
            .collect();
        PolicyFile {
            draw_date: p.draw_date,
            mode: p.mode,
            rounding: p.rounding,
            total: (p.mode == Mode::Weighted).then_some(p.total),
            tier_scheme: p.tier_scheme,
            tiers,
            scope: p.scope,
            cooldown: p.cooldown,
            inspectors: p.inspectors,
            replacements: p.replacements,
        }
    }
}

impl Policy {
    pub fn from_toml(text: &str) -> Result<Self, CoreError> {
        // toml's message names the line, column and key of a syntax or type error.
        let file: PolicyFile = toml::from_str(text)
            .map_err(|e| bad("(toml)", e.to_string().trim_end().replace('\n', " ")))?;
        Self::try_from(file)
    }

    pub fn tier_index(&self, name: &str) -> Option<usize> {
        self.tiers.iter().position(|t| t.name == name)
    }

    /// The replacement caps in force (the defaults when the policy has no `[replacements]`).
    pub fn caps(&self) -> ReplacementCaps {
        self.replacements.unwrap_or_default()
    }

    /// Canonical encoding (draw-spec §5.4) under `protocol`; its SHA-256 is the policy hash in
    /// the commitment. v2 appends the replacement caps.
    pub fn encode(&self, protocol: Protocol) -> Vec<u8> {
        let mut e = Encoder::with_domain(&protocol.label("policy"));
        e.bytes(&date_bytes(self.draw_date))
            .u8(match self.mode {
                Mode::Ratio => 0,
                Mode::Count => 1,
                Mode::Weighted => 2,
            })
            .u8(match self.rounding {
                Rounding::Up => 0,
                Rounding::Down => 1,
                Rounding::Nearest => 2,
            })
            .u64(self.total)
            .u8(match self.tier_scheme {
                TierScheme::Penalty => 0,
                TierScheme::Abcd => 1,
            })
            .count(self.tiers.len());
        for t in &self.tiers {
            e.str(&t.name)
                .u32(t.ratio_bp)
                .u64(t.count)
                .u64(t.weight)
                .u64(t.min);
            match t.max {
                None => e.u8(0),
                Some(m) => e.u8(1).u64(m),
            };
        }
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v.dedup();
            v
        };
        e.strs(&sorted(&self.scope.kinds))
            .strs(&sorted(&self.scope.regions))
            .strs(&sorted(&self.scope.industries));
        match &self.cooldown {
            None => e.u8(0),
            Some(c) => e
                .u8(1)
                .u32(c.days)
                .u8(match c.action {
                    CooldownAction::Exclude => 0,
                    CooldownAction::Downweight => 1,
                })
                .u32(c.percent.unwrap_or(0)),
        };
        let ins = &self.inspectors;
        e.u32(ins.per_object)
            .strs(&ins.departments)
            .u8(match ins.region_rule {
                RegionRule::Any => 0,
                RegionRule::Same => 1,
                RegionRule::Cross => 2,
            })
            .opt_str(ins.specialty.as_deref())
            .u32(ins.max_load.unwrap_or(0))
            .bool(ins.exclude_previous);
        match protocol {
            Protocol::V1 => {}
            Protocol::V2 => {
                let caps = self.caps();
                e.u32(caps.object_cap_bp).u32(caps.recusals_per_slot);
            }
        }
        e.into_bytes()
    }

    pub fn hash(&self, protocol: Protocol) -> Hash {
        super::encode::sha256(&self.encode(protocol))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
draw_date = "2026-03-02"
mode = "ratio"
[inspectors]
departments = ["市场监管局"]
"#;

    #[test]
    fn ratios_parse_to_basis_points() {
        assert_eq!(parse_ratio("3%"), Ok(300));
        assert_eq!(parse_ratio("12.5%"), Ok(1250));
        assert_eq!(parse_ratio("0.25%"), Ok(25));
        assert_eq!(parse_ratio("100%"), Ok(10_000));
        assert!(parse_ratio("100.01%").unwrap_err().contains("over 100%"));
        assert!(parse_ratio("3").is_err());
        assert!(parse_ratio("1.234%").is_err());
        assert!(parse_ratio("5.%").is_err());
        for bp in [0, 1, 10, 25, 300, 1250, 10_000] {
            assert_eq!(
                parse_ratio(&format_ratio(bp)),
                Ok(bp),
                "{}",
                format_ratio(bp)
            );
        }
    }

    #[test]
    fn defaults_follow_the_penalty_scheme_and_abcd_is_one_setting_away() {
        let p = Policy::from_toml(BASE).unwrap();
        let names: Vec<_> = p.tiers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["good", "notice", "watch", "warning", "focus"]);
        assert_eq!(p.inspectors.per_object, 2);
        let p = Policy::from_toml(&format!("tier_scheme = \"abcd\"\n{BASE}")).unwrap();
        assert_eq!(
            p.tiers.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["A", "B", "C", "D"]
        );
    }

    #[test]
    fn round_trips_through_the_file_form_with_the_same_hash() {
        let p = Policy::from_toml(BASE).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        let back: Policy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        for protocol in Protocol::ALL {
            assert_eq!(back.hash(protocol), p.hash(protocol));
        }
    }

    #[test]
    fn invalid_policies_name_the_field() {
        let over = BASE.replace(
            "mode = \"ratio\"",
            "mode = \"ratio\"\n[[tiers]]\nname = \"A\"\nratio = \"120%\"",
        );
        let err = Policy::from_toml(&over).unwrap_err().to_string();
        assert!(
            err.contains("tiers[0].ratio") && err.contains("over 100%"),
            "{err}"
        );
        let joint = BASE.replace("[\"市场监管局\"]", "[\"a\", \"b\", \"c\"]");
        let err = Policy::from_toml(&joint).unwrap_err().to_string();
        assert!(err.contains("per_object"), "{err}");
        let weighted = BASE.replace("\"ratio\"", "\"weighted\"");
        assert!(
            Policy::from_toml(&weighted)
                .unwrap_err()
                .to_string()
                .contains("total")
        );
    }
}
