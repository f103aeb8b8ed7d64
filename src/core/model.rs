//! The pool: validated identifiers, object and inspector records, and the frozen snapshot.

pub use super::uscc::{check_uscc, uscc_check_char};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use compact_str::CompactString;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::CoreError;
use super::encode::{Encoder, Sink};

macro_rules! id_type {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A validated ", $what, " id: 1 to 128 bytes, no control characters, no surrounding spaces.")]
        /// Stored inline up to 24 bytes (a credit code is 18), so a pass over ids touches no heap.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(CompactString);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, CoreError> {
                validate_id(s).map(|()| Self(CompactString::from(s))).map_err(|reason| CoreError::BadId {
                    kind: $what,
                    id: s.chars().take(64).collect(),
                    reason,
                })
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(StrVisitor(|s: &str| Self::parse(s).map_err(|e| e.to_string())))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }
    };
}

/// Deserializes a string without allocating one first.
struct StrVisitor<T>(fn(&str) -> Result<T, String>);

impl<'de, T> serde::de::Visitor<'de> for StrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }
}

id_type!(ObjectId, "object");
id_type!(InspectorId, "inspector");

/// A short categorical value (kind, region, industry, tier). Equal labels share one allocation,
/// so ten million records hold a handful of strings, not forty million.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label(Arc<str>);

/// Labels seen so far on this thread. Only a cache: it never changes a value.
const MAX_INTERNED: usize = 4096;
thread_local! {
    static LABELS: RefCell<BTreeMap<Box<str>, Arc<str>>> = const { RefCell::new(BTreeMap::new()) };
}

impl Label {
    pub fn new(s: &str) -> Self {
        LABELS.with(|labels| {
            let mut labels = labels.borrow_mut();
            if let Some(a) = labels.get(s) {
                return Label(a.clone());
            }
            let a: Arc<str> = Arc::from(s);
            if labels.len() < MAX_INTERNED {
                labels.insert(s.into(), a.clone());
            }
            Label(a)
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Label {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Label {
    fn from(s: &str) -> Self {
        Label::new(s)
    }
}

impl PartialEq<str> for Label {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Label {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for Label {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(|s: &str| Ok(Label::new(s))))
    }
}

fn validate_id(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty");
    }
    if s.len() > 128 {
        return Err("longer than 128 bytes");
    }
    if s.trim() != s {
        return Err("leading or trailing whitespace");
    }
    if s.chars().any(char::is_control) {
        return Err("control character");
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectStatus {
    Active,
    Closed,
    Deregistered,
    Revoked,
}

impl ObjectStatus {
    pub const ALL: [ObjectStatus; 4] = [
        Self::Active,
        Self::Closed,
        Self::Deregistered,
        Self::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Closed => "closed",
            Self::Deregistered => "deregistered",
            Self::Revoked => "revoked",
        }
    }

    /// English or Chinese names as officers write them.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "active" | "" | "存续" | "在营" | "开业" | "正常" => Self::Active,
            "closed" | "停业" | "歇业" | "关闭" | "已关闭停业" => Self::Closed,
            "deregistered" | "注销" | "已注销" => Self::Deregistered,
            "revoked" | "吊销" | "被吊销" | "撤销" | "被撤销" => Self::Revoked,
            _ => return None,
        })
    }
}

/// Kinds whose id must be a unified social credit code; products, projects and behaviours have free ids.
pub const ENTITY_KINDS: [&str; 4] = [
    "enterprise",
    "individual_business",
    "social_organisation",
    "public_institution",
];

/// An inspection object (检查对象). `tier` is private: it is committed to but never published
/// for an object that was not drawn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    pub id: ObjectId,
    pub name: Box<str>,
    pub kind: Label,
    pub region: Label,
    pub industry: Label,
    pub tier: Label,
    pub status: ObjectStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_inspected: Option<NaiveDate>,
    /// Inspectors of the previous inspection, sorted; they are not sent again.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub last_inspectors: Box<[InspectorId]>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "super::encode::unique_keys"
    )]
    pub attributes: BTreeMap<String, String>,
}

/// The part of an object that may be published once it is drawn (draw-spec §3.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicObject {
    pub id: ObjectId,
    pub name: String,
    pub kind: Label,
    pub region: Label,
    pub industry: Label,
    pub status: ObjectStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_inspectors: Vec<InspectorId>,
}

impl PublicObject {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_capacity(128);
        self.encode_to(&mut e);
        e.into_bytes()
    }

    pub fn encode_to<S: Sink>(&self, e: &mut Encoder<S>) {
        encode_public(
            e,
            &self.id,
            &self.name,
            &self.kind,
            &self.region,
            &self.industry,
            self.status,
            &self.last_inspectors,
        );
    }
}

/// lp(id) ‖ lp(name) ‖ lp(kind) ‖ lp(region) ‖ lp(industry) ‖ lp(status) ‖ list(last inspectors).
#[allow(clippy::too_many_arguments)]
fn encode_public<S: Sink>(
    e: &mut Encoder<S>,
    id: &ObjectId,
    name: &str,
    kind: &str,
    region: &str,
    industry: &str,
    status: ObjectStatus,
    last_inspectors: &[InspectorId],
) {
    e.str(id.as_str())
        .str(name)
        .str(kind)
        .str(region)
        .str(industry)
        .str(status.as_str());
    e.count(last_inspectors.len());
    for i in last_inspectors {
        e.str(i.as_str());
    }
}

/// A date as the 10 ASCII bytes YYYY-MM-DD, without going through a formatter.
pub fn date_bytes(d: NaiveDate) -> [u8; 10] {
    let (y, m, day) = (d.year().clamp(0, 9999) as u32, d.month(), d.day());
    let digit = |v: u32| b'0' + v as u8;
    [
        digit(y / 1000),
        digit(y / 100 % 10),
        digit(y / 10 % 10),
        digit(y % 10),
        b'-',
        digit(m / 10),
        digit(m % 10),
        b'-',
        digit(day / 10),
        digit(day % 10),
    ]
}

impl Object {
    pub fn public_part(&self) -> PublicObject {
        PublicObject {
            id: self.id.clone(),
            name: self.name.to_string(),
            kind: self.kind.clone(),
            region: self.region.clone(),
            industry: self.industry.clone(),
            status: self.status,
            last_inspectors: self.last_inspectors.to_vec(),
        }
    }

    /// The public part's encoding, without copying the record.
    pub fn encode_public_to<S: Sink>(&self, e: &mut Encoder<S>) {
        encode_public(
            e,
            &self.id,
            &self.name,
            &self.kind,
            &self.region,
            &self.industry,
            self.status,
            &self.last_inspectors,
        );
    }

    /// Private fields: lp(tier) ‖ optional lp(last inspection date) ‖ attributes sorted by key.
    pub fn encode_private_to<S: Sink>(&self, e: &mut Encoder<S>) {
        e.str(&self.tier);
        match self.last_inspected {
            None => e.u8(0),
            Some(d) => e.u8(1).bytes(&date_bytes(d)),
        };
        e.count(self.attributes.len());
        for (k, v) in &self.attributes {
            e.str(k).str(v);
        }
    }

    fn normalise(&mut self) {
        if !self.last_inspectors.is_sorted_by(|a, b| a < b) {
            let mut v = std::mem::take(&mut self.last_inspectors).into_vec();
            v.sort();
            v.dedup();
            self.last_inspectors = v.into_boxed_slice();
        }
    }
}

/// An inspector (执法检查人员). Everything here is public: inspectors are named on results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspector {
    pub id: InspectorId,
    pub name: String,
    /// Sorted, without duplicates.
    pub departments: Vec<String>,
    pub region: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specialties: Vec<String>,
    pub certificate_no: String,
    pub certificate_expiry: NaiveDate,
    /// Objects this inspector declared a conflict of interest with (回避), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ObjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_load: Option<u32>,
}

impl Inspector {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.str(self.id.as_str())
            .str(&self.name)
            .strs(&self.departments)
            .str(&self.region)
            .strs(&self.specialties)
            .str(&self.certificate_no)
            .bytes(&date_bytes(self.certificate_expiry))
            .strs(
                &self
                    .conflicts
                    .iter()
                    .map(|i| i.as_str())
                    .collect::<Vec<_>>(),
            );
        match self.max_load {
            None => e.u8(0),
            Some(m) => e.u8(1).u32(m),
        };
        e.into_bytes()
    }

    fn normalise(&mut self) {
        for list in [&mut self.departments, &mut self.specialties] {
            list.sort();
            list.dedup();
        }
        self.conflicts.sort();
        self.conflicts.dedup();
    }
}

/// A frozen pool: records sorted by id, ids unique, list fields sorted. Built only through
/// [`Snapshot::new`], so every holder can rely on the canonical order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    objects: Vec<Object>,
    inspectors: Vec<Inspector>,
}

impl Snapshot {
    pub fn new(
        mut objects: Vec<Object>,
        mut inspectors: Vec<Inspector>,
    ) -> Result<Self, CoreError> {
        objects.iter_mut().for_each(Object::normalise);
        inspectors.iter_mut().for_each(Inspector::normalise);
        // Dates are encoded as 10 bytes, so only four-digit years can be told apart.
        let bad_date = |d: &NaiveDate| !(1900..=9999).contains(&d.year());
        if let Some(o) = objects
            .iter()
            .find(|o| o.last_inspected.as_ref().is_some_and(bad_date))
        {
            return Err(CoreError::BadDate {
                kind: "object",
                id: o.id.to_string(),
                field: "last_inspected",
            });
        }
        if let Some(i) = inspectors.iter().find(|i| bad_date(&i.certificate_expiry)) {
            return Err(CoreError::BadDate {
                kind: "inspector",
                id: i.id.to_string(),
                field: "certificate_expiry",
            });
        }
        sort_by_id(&mut objects, |o| &o.id);
        sort_by_id(&mut inspectors, |i| &i.id);
        if let Some(w) = objects.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(CoreError::DuplicateId {
                kind: "object",
                id: w[0].id.to_string(),
            });
        }
        if let Some(w) = inspectors.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(CoreError::DuplicateId {
                kind: "inspector",
                id: w[0].id.to_string(),
            });
        }
        Ok(Self {
            objects,
            inspectors,
        })
    }

    pub fn objects(&self) -> &[Object] {
        &self.objects
    }

    pub fn inspectors(&self) -> &[Inspector] {
        &self.inspectors
    }

    pub fn object_index(&self, id: &ObjectId) -> Option<usize> {
        self.objects.binary_search_by(|o| o.id.cmp(id)).ok()
    }

    pub fn inspector_index(&self, id: &InspectorId) -> Option<usize> {
        self.inspectors.binary_search_by(|o| o.id.cmp(id)).ok()
    }
}

/// Sorts records by id. Records are large, so the ids are sorted with their positions and the
/// records then moved once each, following the permutation's cycles, in place.
fn sort_by_id<T, K: Ord + Clone + Send>(records: &mut [T], id: impl Fn(&T) -> &K) {
    use rayon::prelude::*;
    if records.windows(2).all(|w| id(&w[0]) <= id(&w[1])) {
        return;
    }
    let mut order: Vec<(K, u32)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (id(r).clone(), i as u32))
        .collect();
    order.par_sort_unstable();
    // Position i receives the record now at order[i].1.
    let mut from: Vec<u32> = order.into_iter().map(|(_, i)| i).collect();
    for start in 0..records.len() {
        let mut i = start;
        while from[i] as usize != start && from[i] != u32::MAX {
            let next = from[i] as usize;
            records.swap(i, next);
            from[i] = u32::MAX;
            i = next;
        }
        from[i] = u32::MAX;
    }
}

impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            objects: Vec<Object>,
            inspectors: Vec<Inspector>,
        }
        let raw = Raw::deserialize(d)?;
        Snapshot::new(raw.objects, raw.inspectors).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_credit_codes_pass_and_altered_ones_fail() {
        for code in [
            "914403001922038216",
            "9144030071526726XG",
            "91330100799655058B",
        ] {
            assert_eq!(check_uscc(code), Ok(()), "{code}");
            assert_eq!(
                uscc_check_char(&code.as_bytes()[..17]),
                code.chars().last().unwrap()
            );
        }
        assert!(
            check_uscc("914403001922038217")
                .unwrap_err()
                .contains("check character")
        );
        assert!(
            check_uscc("91440300192203821")
                .unwrap_err()
                .contains("18 characters")
        );
        assert!(
            check_uscc("9144030019220382I6")
                .unwrap_err()
                .contains("alphabet")
        );
    }

    #[test]
    fn sorting_by_id_moves_every_record_to_its_place() {
        for n in [0u32, 1, 2, 7, 100] {
            let mut v: Vec<(u32, String)> = (0..n)
                .map(|i| ((i * 37 + 11) % n.max(1), format!("r{i}")))
                .collect();
            let mut want = v.clone();
            want.sort();
            sort_by_id(&mut v, |r| &r.0);
            assert_eq!(v, want);
        }
    }

    #[test]
    fn ids_reject_blank_and_padded() {
        assert!(ObjectId::parse("").is_err());
        assert!(ObjectId::parse(" a").is_err());
        assert!(InspectorId::parse("a\nb").is_err());
        assert_eq!(ObjectId::parse("P-1").unwrap().as_str(), "P-1");
    }
}
