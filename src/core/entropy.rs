//! Announced public entropy (draw-spec §7.6, protocol v2): the machine-checkable sources a
//! commitment names, the one form each source's value may take, each source's min-entropy in
//! bits, and the check that binds the values to the sources. v1 commitments announce their
//! entropy as free text only (§20.1 lines); this module is never consulted for them.
//! Over 600 lines: a third is tests, and the kinds, their value forms and their min-entropy
//! (with its exact integer arithmetic) change together, with draw-spec §7.6.

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::beacon::{Announcement, BeaconRecord};
use super::encode::{Encoder, Hash, Sink, hex32};
use super::model::date_bytes;

/// Below this total a v2 commitment needs `allow_weak_entropy` (draw-spec §1, §7.6).
pub const MIN_BITS: u32 = 64;
/// Below this total `verify` warns (draw-spec §1: the grinding bound).
pub const WARN_BITS: u32 = 128;

/// Most numbers one lottery group may hold, and most groups: bounds the outcome arithmetic.
const MAX_GROUP_COUNT: u32 = 64;
const MAX_GROUPS: usize = 8;
const MAX_TEXT: usize = 128;

/// One announced source of public randomness; `kind` tags it in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntropySource {
    /// A drand round (§20); its value is the round's randomness, SHA-256(signature).
    Drand {
        #[serde(with = "hex32")]
        chain: Hash,
        round: u64,
        /// When the chain produces the round.
        at: UtcSecond,
    },
    /// A public lottery draw; its value is the drawn numbers as canonical text.
    Lottery {
        name: String,
        issue: String,
        draw_date: NaiveDate,
        groups: Vec<LotteryGroup>,
    },
    /// Numbers entered by people the authority chose: no entropy against the authority.
    Witness { event: String, witnesses: u32 },
}

/// One group of a lottery's numbers (双色球: 6 red of 1–33, distinct, unordered; 1 blue of 1–16).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotteryGroup {
    pub count: u32,
    pub min: u32,
    pub max: u32,
    /// The order of the numbers is part of the outcome (福彩3D: yes).
    pub ordered: bool,
    /// No number repeats within the group.
    pub distinct: bool,
}

/// A UTC time to the second, written `YYYY-MM-DDTHH:MM:SSZ` and read only in that form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcSecond(pub i64);

impl UtcSecond {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ")
            .map_err(|_| format!("{s:?} is not a time YYYY-MM-DDTHH:MM:SSZ"))?
            .and_utc()
            .timestamp();
        let v = Self(t);
        if v.to_string() != s {
            return Err(format!("{s:?} is not a time YYYY-MM-DDTHH:MM:SSZ"));
        }
        Ok(v)
    }
}

impl fmt::Display for UtcSecond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match DateTime::from_timestamp(self.0, 0) {
            Some(d) => write!(f, "{}", d.format("%Y-%m-%dT%H:%M:%SZ")),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for UtcSecond {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcSecond {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What a commitment announces about its entropy: the human description and, from v2 on, the
/// structured sources and whether less than [`MIN_BITS`] was accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Announced {
    pub text: String,
    pub sources: Vec<EntropySource>,
    pub allow_weak: bool,
}

fn text_ok(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_TEXT || s.trim() != s || s.chars().any(char::is_control) {
        return Err(format!(
            "{what} {s:?} must be 1 to {MAX_TEXT} bytes without control characters or surrounding spaces"
        ));
    }
    Ok(())
}

impl LotteryGroup {
    fn range(&self) -> u64 {
        u64::from(self.max) - u64::from(self.min) + 1
    }

    fn validate(&self, i: usize) -> Result<(), String> {
        if !(1..=MAX_GROUP_COUNT).contains(&self.count) {
            return Err(format!(
                "group {}: count must be 1 to {MAX_GROUP_COUNT}",
                i + 1
            ));
        }
        if self.min > self.max {
            return Err(format!("group {}: min is above max", i + 1));
        }
        if self.distinct && u64::from(self.count) > self.range() {
            return Err(format!(
                "group {}: {} distinct numbers do not fit in {}–{}",
                i + 1,
                self.count,
                self.min,
                self.max
            ));
        }
        Ok(())
    }

    /// The number of possible outcomes of the group (draw-spec §7.6).
    fn outcomes(&self) -> Big {
        let (r, k) = (self.range(), u64::from(self.count));
        let mut n = Big::one();
        match (self.ordered, self.distinct) {
            (true, true) => (0..k).for_each(|i| n.mul(r - i)),
            (true, false) => (0..k).for_each(|_| n.mul(r)),
            // C(m, k) built as a product of exact quotients: after step i, n = C(m−k+i+1, i+1).
            (false, distinct) => {
                let m = if distinct { r } else { r + k - 1 };
                for i in 0..k {
                    n.mul(m - k + 1 + i);
                    n.div_exact(i + 1);
                }
            }
        }
        n
    }
}

impl EntropySource {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Drand { .. } => "drand",
            Self::Lottery { .. } => "lottery",
            Self::Witness { .. } => "witness",
        }
    }

    /// The announcement's own rules (draw-spec §7.6): names, counts, ranges.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Drand { round, .. } if *round == 0 => Err("drand rounds start at 1".into()),
            Self::Drand { .. } => Ok(()),
            Self::Lottery {
                name,
                issue,
                draw_date,
                groups,
            } => {
                text_ok("lottery name", name)?;
                text_ok("lottery issue", issue)?;
                if !(1900..=9999).contains(&draw_date.year()) {
                    return Err("the lottery's draw_date must be in the years 1900 to 9999".into());
                }
                if groups.is_empty() || groups.len() > MAX_GROUPS {
                    return Err(format!("a lottery has 1 to {MAX_GROUPS} groups of numbers"));
                }
                groups
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, g)| g.validate(i))
            }
            Self::Witness { event, witnesses } => {
                text_ok("witness event", event)?;
                if *witnesses == 0 {
                    return Err("a witness source has at least one witness".into());
                }
                Ok(())
            }
        }
    }

    /// Appends `source_enc` (draw-spec §7.4).
    pub fn encode<S: Sink>(&self, e: &mut Encoder<S>) {
        e.str(self.kind());
        match self {
            Self::Drand { chain, round, at } => {
                e.hash(chain).u64(*round).str(&at.to_string());
            }
            Self::Lottery {
                name,
                issue,
                draw_date,
                groups,
            } => {
                e.str(name)
                    .str(issue)
                    .bytes(&date_bytes(*draw_date))
                    .count(groups.len());
                for g in groups {
                    e.u32(g.count)
                        .u32(g.min)
                        .u32(g.max)
                        .bool(g.ordered)
                        .bool(g.distinct);
                }
            }
            Self::Witness { event, witnesses } => {
                e.str(event).u32(*witnesses);
            }
        }
    }

    /// Min-entropy of the value against the authority, in whole bits (draw-spec §7.6): drand
    /// 256; a lottery floor(log2(outcomes)); witnesses 0, since the authority chose them.
    pub fn min_entropy_bits(&self) -> u32 {
        match self {
            Self::Drand { .. } => 256,
            Self::Witness { .. } => 0,
            Self::Lottery { groups, .. } => {
                let mut n = Big::one();
                for g in groups {
                    n.mul_big(&g.outcomes());
                }
                n.bits().saturating_sub(1)
            }
        }
    }

    /// When the value became public: the drand round's time, a lottery's draw date at 00:00
    /// China time (the draw is that evening), none for witnesses (no public clock).
    pub fn published_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Drand { at, .. } => DateTime::from_timestamp(at.0, 0),
            Self::Lottery { draw_date, .. } => {
                let china = FixedOffset::east_opt(8 * 3600).expect("UTC+8");
                draw_date
                    .and_hms_opt(0, 0, 0)?
                    .and_local_timezone(china)
                    .single()
                    .map(|d| d.with_timezone(&Utc))
            }
            Self::Witness { .. } => None,
        }
    }

    /// The drand announcement line this source stands for (§20.1), if it is a drand source.
    pub fn drand_line(&self) -> Option<String> {
        match self {
            Self::Drand { chain, round, at } => Some(
                Announcement {
                    chain_hash: *chain,
                    round: *round,
                    at: at.0,
                }
                .line(),
            ),
            _ => None,
        }
    }

    /// The canonical value of what an officer typed for a lottery or witness source: numbers
    /// separated by white space or commas, groups by `+`, leading zeros dropped, unordered
    /// groups sorted. Checked as [`check_value`](Self::check_value) checks it.
    pub fn canonical_text(&self, typed: &str) -> Result<String, String> {
        let groups: Vec<Vec<u64>> = typed
            .split('+')
            .map(|g| {
                g.split(|c: char| c.is_whitespace() || c == ',' || c == '，')
                    .filter(|t| !t.is_empty())
                    .map(|t| {
                        if t.bytes().all(|b| b.is_ascii_digit()) {
                            t.trim_start_matches('0')
                                .parse::<u64>()
                                .or(if t.chars().all(|c| c == '0') {
                                    Ok(0)
                                } else {
                                    Err(())
                                })
                                .map_err(|_| format!("{t:?} is too large"))
                        } else {
                            Err(format!(
                                "{t:?} is not a whole number (values are integers written in decimal)"
                            ))
                        }
                    })
                    .collect()
            })
            .collect::<Result<_, _>>()?;
        let text = match self {
            Self::Lottery { groups: spec, .. } => {
                if groups.len() != spec.len() {
                    return Err(format!(
                        "{} group(s) of numbers separated by '+' expected, found {}",
                        spec.len(),
                        groups.len()
                    ));
                }
                let sorted: Vec<Vec<u64>> = groups
                    .into_iter()
                    .zip(spec)
                    .map(|(mut g, s)| {
                        if !s.ordered {
                            g.sort_unstable();
                        }
                        g
                    })
                    .collect();
                join(&sorted)
            }
            Self::Witness { .. } => {
                let mut all: Vec<u64> = groups.into_iter().flatten().collect();
                all.sort_unstable();
                join(&[all])
            }
            Self::Drand { .. } => return Err("a drand value is the round's beacon".into()),
        };
        self.check_text(&text)?;
        Ok(text)
    }

    /// A lottery's or witness's value in its one form (draw-spec §7.6).
    fn check_text(&self, text: &str) -> Result<(), String> {
        let groups: Vec<&str> = text.split(" + ").collect();
        let parsed: Vec<Vec<u64>> = groups
            .iter()
            .map(|g| g.split(' ').map(canonical_number).collect())
            .collect::<Result<_, _>>()?;
        let specs: Vec<LotteryGroup> = match self {
            Self::Lottery { groups, .. } => groups.clone(),
            Self::Witness { .. } => vec![LotteryGroup {
                count: parsed[0].len() as u32,
                min: 0,
                max: u32::MAX,
                ordered: false,
                distinct: false,
            }],
            Self::Drand { .. } => unreachable!("drand values are bytes"),
        };
        if parsed.len() != specs.len() {
            return Err(format!(
                "{} group(s) joined by \" + \" expected, found {}",
                specs.len(),
                parsed.len()
            ));
        }
        for (i, (g, s)) in parsed.iter().zip(&specs).enumerate() {
            let at = |what: String| format!("group {}: {what}", i + 1);
            if g.len() != s.count as usize {
                return Err(at(format!(
                    "{} numbers expected, found {}",
                    s.count,
                    g.len()
                )));
            }
            if matches!(self, Self::Lottery { .. })
                && let Some(n) = g
                    .iter()
                    .find(|n| !(u64::from(s.min)..=u64::from(s.max)).contains(n))
            {
                return Err(at(format!("{n} is outside {}–{}", s.min, s.max)));
            }
            let mut seen = g.clone();
            seen.sort_unstable();
            if s.distinct && seen.windows(2).any(|w| w[0] == w[1]) {
                return Err(at("a number repeats".into()));
            }
            if !s.ordered && seen != *g {
                return Err(at("the numbers must be in ascending order".into()));
            }
        }
        Ok(())
    }

    /// Checks one entropy value against this source; `beacons[k]` is marked used when it
    /// delivers a drand value. Returns what was checked.
    fn check_value(
        &self,
        i: usize,
        value: &[u8],
        beacons: &[BeaconRecord],
        used: &mut [bool],
    ) -> Result<String, String> {
        match self {
            Self::Drand { chain, round, at } => {
                let (k, record) = beacons
                    .iter()
                    .enumerate()
                    .find(|(_, b)| b.beacon.round == *round && b.chain.hash() == *chain)
                    .ok_or_else(|| {
                        format!(
                            "no beacon for the announced round {round} of chain {}",
                            hex::encode(chain)
                        )
                    })?;
                used[k] = true;
                let produced = record.chain.round_time(*round);
                if produced != at.0 {
                    return Err(format!(
                        "round {round} of the chain is produced at {}, not at the announced {at}",
                        UtcSecond(produced)
                    ));
                }
                let randomness = record
                    .chain
                    .verify(&record.beacon)
                    .map_err(|e| format!("round {round}: {e}"))?;
                if value != randomness {
                    return Err(format!(
                        "entropy value {} is not the randomness of round {round} ({})",
                        i + 1,
                        hex::encode(randomness)
                    ));
                }
                Ok(format!(
                    "entropy value {}: drand round {round} of chain {} (produced {at}): BLS signature valid, value is its randomness",
                    i + 1,
                    hex::encode(chain)
                ))
            }
            _ => {
                let text = std::str::from_utf8(value)
                    .map_err(|_| format!("entropy value {} is not UTF-8 text", i + 1))?;
                self.check_text(text).map_err(|e| {
                    format!(
                        "entropy value {} {text:?} is not the announced {} value: {e}",
                        i + 1,
                        self.kind()
                    )
                })?;
                Ok(format!(
                    "entropy value {}: {} in its announced form",
                    i + 1,
                    self.describe()
                ))
            }
        }
    }

    /// One line for reports: what the source is.
    pub fn describe(&self) -> String {
        match self {
            Self::Drand { round, at, .. } => format!("drand round {round} ({at})"),
            Self::Lottery {
                name,
                issue,
                draw_date,
                ..
            } => format!("lottery {name} issue {issue} of {draw_date}"),
            Self::Witness { event, witnesses } => {
                format!("witness values of {event} ({witnesses} witness(es))")
            }
        }
    }
}

fn canonical_number(t: &str) -> Result<u64, String> {
    let n: u64 = t
        .parse()
        .ok()
        .filter(|_| t.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("{t:?} is not a whole number in decimal"))?;
    if n.to_string() != t {
        return Err(format!("{t:?} has a leading zero"));
    }
    Ok(n)
}

fn join(groups: &[Vec<u64>]) -> String {
    groups
        .iter()
        .map(|g| g.iter().map(u64::to_string).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Σ of the sources' min-entropy bits.
pub fn total_bits(sources: &[EntropySource]) -> u32 {
    sources
        .iter()
        .map(EntropySource::min_entropy_bits)
        .fold(0u32, u32::saturating_add)
}

/// What a v2 commitment's entropy must satisfy (draw-spec §7.6): at least one source, each
/// valid, and [`MIN_BITS`] in total unless `allow_weak_entropy`. Returns the total bits.
pub fn check_announcement(sources: &[EntropySource], allow_weak: bool) -> Result<u32, String> {
    if sources.is_empty() {
        return Err("a v2 commitment announces at least one entropy source".into());
    }
    for (i, s) in sources.iter().enumerate() {
        s.validate()
            .map_err(|e| format!("entropy source {}: {e}", i + 1))?;
    }
    let bits = total_bits(sources);
    if bits < MIN_BITS && !allow_weak {
        return Err(format!(
            "the announced sources give {bits} bits of min-entropy, under the {MIN_BITS} required: \
             the authority could grind its secret until the draw suits it (announce a drand \
             round, or mark the task allow_weak_entropy, which is published)"
        ));
    }
    Ok(bits)
}

/// The description of a v2 commitment may repeat a drand source's announcement line (§20.1),
/// but every line that looks like one must be exactly the line of an announced drand source.
pub fn check_description(text: &str, sources: &[EntropySource]) -> Result<(), String> {
    for (i, line) in text.split('\n').enumerate() {
        if let Some(a) = Announcement::parse(line) {
            let line_no = i + 1;
            let a = a.map_err(|e| format!("entropy_source line {line_no}: {e}"))?;
            if !sources
                .iter()
                .any(|s| s.drand_line().as_deref() == Some(a.line().as_str()))
            {
                return Err(format!(
                    "entropy_source line {line_no} announces drand round {}, which is not among entropy_sources",
                    a.round
                ));
            }
        }
    }
    Ok(())
}

/// Binds the values to the announced sources (draw-spec §7.6): exactly one value per source,
/// in order, each in its declared form; every beacon record delivers a drand source, and none
/// is repeated. Returns a description per value.
pub fn check(
    sources: &[EntropySource],
    entropy: &[Vec<u8>],
    beacons: &[BeaconRecord],
) -> Result<Vec<String>, String> {
    if entropy.len() != sources.len() {
        return Err(format!(
            "{} source(s) announced, {} entropy value(s) given: exactly one value per source",
            sources.len(),
            entropy.len()
        ));
    }
    if let Some(k) = (1..beacons.len()).find(|&k| beacons[..k].contains(&beacons[k])) {
        return Err(format!("beacon record {} repeats an earlier one", k + 1));
    }
    let mut used = vec![false; beacons.len()];
    let checked = sources
        .iter()
        .zip(entropy)
        .enumerate()
        .map(|(i, (s, v))| s.check_value(i, v, beacons, &mut used))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(k) = used.iter().position(|u| !u) {
        return Err(format!(
            "beacon of round {} is not an announced drand source",
            beacons[k].beacon.round
        ));
    }
    Ok(checked)
}

/// A non-negative integer of any size, as little-endian 64-bit limbs: the outcome counts.
struct Big(Vec<u64>);

impl Big {
    fn one() -> Self {
        Self(vec![1])
    }

    fn mul(&mut self, f: u64) {
        let mut carry = 0u128;
        for limb in &mut self.0 {
            let v = u128::from(*limb) * u128::from(f) + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
        if carry > 0 {
            self.0.push(carry as u64);
        }
    }

    fn mul_big(&mut self, other: &Big) {
        let mut out = vec![0u64; self.0.len() + other.0.len()];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &b) in other.0.iter().enumerate() {
                let v = u128::from(out[i + j]) + u128::from(a) * u128::from(b) + carry;
                out[i + j] = v as u64;
                carry = v >> 64;
            }
            out[i + other.0.len()] = carry as u64;
        }
        self.0 = out;
        self.trim();
    }

    fn div_exact(&mut self, d: u64) {
        let mut rem = 0u128;
        for limb in self.0.iter_mut().rev() {
            let v = (rem << 64) | u128::from(*limb);
            *limb = (v / u128::from(d)) as u64;
            rem = v % u128::from(d);
        }
        debug_assert_eq!(rem, 0);
        self.trim();
    }

    fn trim(&mut self) {
        while self.0.len() > 1 && self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    /// Bit length (0 for zero).
    fn bits(&self) -> u32 {
        let top = *self.0.last().expect("at least one limb");
        (self.0.len() as u32 - 1) * 64 + (64 - top.leading_zeros())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lottery(groups: &[(u32, u32, u32, bool, bool)]) -> EntropySource {
        EntropySource::Lottery {
            name: "双色球".into(),
            issue: "2026138".into(),
            draw_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            groups: groups
                .iter()
                .map(|&(count, min, max, ordered, distinct)| LotteryGroup {
                    count,
                    min,
                    max,
                    ordered,
                    distinct,
                })
                .collect(),
        }
    }

    fn ssq() -> EntropySource {
        lottery(&[(6, 1, 33, false, true), (1, 1, 16, false, true)])
    }

    #[test]
    fn min_entropy_of_the_usual_lotteries() {
        assert_eq!(ssq().min_entropy_bits(), 24); // C(33,6)·16 = 17 721 088
        let dlt = lottery(&[(5, 1, 35, false, true), (2, 1, 12, false, true)]);
        assert_eq!(dlt.min_entropy_bits(), 24); // C(35,5)·C(12,2) = 21 425 712
        let fc3d = lottery(&[(3, 0, 9, true, false)]);
        assert_eq!(fc3d.min_entropy_bits(), 9); // 1000
        // Exactly a power of two: 2^k outcomes give k bits.
        assert_eq!(lottery(&[(1, 1, 16, false, true)]).min_entropy_bits(), 4);
        // Unordered with repeats: C(10+3−1, 3) = 220 → 7 bits; ordered distinct P(10,3) = 720 → 9.
        assert_eq!(lottery(&[(3, 0, 9, false, false)]).min_entropy_bits(), 7);
        assert_eq!(lottery(&[(3, 0, 9, true, true)]).min_entropy_bits(), 9);
        // Large groups do not overflow: 64 ordered numbers of the full u32 range = 2^2048.
        assert_eq!(
            lottery(&[(64, 0, u32::MAX, true, false)]).min_entropy_bits(),
            2048
        );
        let drand = EntropySource::Drand {
            chain: [0; 32],
            round: 1,
            at: UtcSecond(0),
        };
        let witness = EntropySource::Witness {
            event: "lottery".into(),
            witnesses: 2,
        };
        assert_eq!(total_bits(&[ssq(), drand, witness]), 280);
    }

    #[test]
    fn values_in_their_one_form() {
        let s = ssq();
        let ok = |v: &str| s.check_value(0, v.as_bytes(), &[], &mut []);
        assert!(ok("3 7 12 19 25 31 + 9").is_ok());
        for bad in [
            "",
            "3 7 12 19 25 31",
            "3 7 12 19 25 31 + 9 + 1",
            "3 7 12 19 25 31 + 9 ",
            "03 7 12 19 25 31 + 9",
            "7 3 12 19 25 31 + 9",
            "3 3 12 19 25 31 + 9",
            "3 7 12 19 25 34 + 9",
            "3 7 12 19 25 31 + 17",
            "3  7 12 19 25 31 + 9",
            "3 7 12 19 25 31+9",
            "3 7 12 19 25 31 + 9.0",
        ] {
            assert!(ok(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            s.canonical_text("31, 25, 19, 12, 07, 03 + 09").unwrap(),
            "3 7 12 19 25 31 + 9"
        );
        assert!(s.canonical_text("2.5 3 4 5 6 7 + 1").is_err());
        let w = EntropySource::Witness {
            event: "lottery".into(),
            witnesses: 1,
        };
        assert_eq!(w.canonical_text("53 2").unwrap(), "2 53");
        assert!(w.canonical_text("2.5 3").is_err());
        assert!(w.canonical_text("").is_err());
        assert!(w.check_value(0, b"", &[], &mut []).is_err());
    }

    #[test]
    fn one_value_per_source() {
        let w = EntropySource::Witness {
            event: "lottery".into(),
            witnesses: 1,
        };
        let v = b"1 2 3".to_vec();
        assert_eq!(
            check(std::slice::from_ref(&w), std::slice::from_ref(&v), &[])
                .unwrap()
                .len(),
            1
        );
        // An appended value, a missing one, an empty one: refused.
        assert!(check(std::slice::from_ref(&w), &[v.clone(), v.clone()], &[]).is_err());
        assert!(check(std::slice::from_ref(&w), &[], &[]).is_err());
        assert!(check(std::slice::from_ref(&w), &[Vec::new()], &[]).is_err());
        assert!(check_announcement(&[], true).is_err());
        assert!(check_announcement(std::slice::from_ref(&w), false).is_err());
        assert_eq!(check_announcement(std::slice::from_ref(&w), true), Ok(0));
    }

    #[test]
    fn times_and_json() {
        assert!(UtcSecond::parse("2026-12-01T08:00:00Z").is_ok());
        for bad in [
            "2026-12-01T08:00:00+00:00",
            "2026-12-1T08:00:00Z",
            " 2026-12-01T08:00:00Z",
        ] {
            assert!(UtcSecond::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ssq().published_at().unwrap().to_rfc3339(),
            "2026-11-30T16:00:00+00:00"
        );
        let json = serde_json::to_value(ssq()).unwrap();
        assert_eq!(json["kind"], "lottery");
        assert_eq!(
            serde_json::from_value::<EntropySource>(json).unwrap(),
            ssq()
        );
    }
}
