//! From library records to the engine's snapshot: the tier of each object as of the draw date
//! (from penalty records, or an imported class), its last inspection, and the active inspectors.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::fields::tier_from_penalties;
use super::{InspectionRecord, InspectorRecord, ObjectRecord, PenaltyKind, PenaltyRecord};
use crate::core::CoreError;
use crate::core::encode::Hash;
use crate::core::encode::{Encoder, hex32};
use crate::core::model::{Inspector, InspectorId, Label, Object, ObjectId, ObjectStatus};
use crate::core::policy::Policy;
use crate::core::pool::{CommittedPool, StratumHead, TreeHead};

/// Where an object's tier comes from; a deployment setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierSource {
    /// domain.md: penalties in the twelve months up to the draw date, and the joint-punishment
    /// list (鄂州政办发〔2021〕29号).
    #[default]
    Penalties,
    /// The `credit_class` imported with each object (e.g. SAMR's monthly A/B/C/D).
    Class,
}

/// The fields of a stored penalty record that the tier rule reads. Parsing only these (the
/// other fields are skipped, not allocated) is what keeps a ten-million-object pool quick.
#[derive(Clone, Debug, Deserialize)]
pub struct PenaltyFacts {
    pub object_id: ObjectId,
    pub kind: PenaltyKind,
    pub date: NaiveDate,
    #[serde(default)]
    pub until: Option<NaiveDate>,
}

impl From<PenaltyRecord> for PenaltyFacts {
    fn from(c: PenaltyRecord) -> Self {
        Self {
            object_id: c.object_id,
            kind: c.kind,
            date: c.date,
            until: c.until,
        }
    }
}

/// The fields of a stored inspection that cooldown and rotation read.
#[derive(Clone, Debug, Deserialize)]
pub struct InspectionFacts {
    pub object_id: ObjectId,
    pub date: NaiveDate,
    pub inspectors: Vec<InspectorId>,
}

impl From<InspectionRecord> for InspectionFacts {
    fn from(i: InspectionRecord) -> Self {
        Self {
            object_id: i.object_id,
            date: i.date,
            inspectors: i.inspectors,
        }
    }
}

/// A stored object record, its text borrowed from the stored JSON where it can be.
#[derive(Debug, Deserialize)]
pub struct ObjectFacts<'a> {
    pub id: ObjectId,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow)]
    pub region: Cow<'a, str>,
    #[serde(borrow)]
    pub industry: Cow<'a, str>,
    pub status: ObjectStatus,
    #[serde(default, borrow)]
    pub credit_class: Option<Cow<'a, str>>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

impl<'a> From<&'a ObjectRecord> for ObjectFacts<'a> {
    fn from(o: &'a ObjectRecord) -> Self {
        Self {
            id: o.id.clone(),
            name: Cow::Borrowed(&o.name),
            kind: Cow::Borrowed(&o.kind),
            region: Cow::Borrowed(&o.region),
            industry: Cow::Borrowed(&o.industry),
            status: o.status,
            credit_class: o.credit_class.as_deref().map(Cow::Borrowed),
            attributes: o.attributes.clone(),
        }
    }
}

/// Per object: penalties counted in the window, whether it is on the joint-punishment list,
/// and its last inspection with the team.
#[derive(Default)]
struct Standing {
    penalties: u32,
    listed: bool,
    last: Option<(NaiveDate, Vec<InspectorId>)>,
}

/// Everything about the pool but the objects themselves, which are streamed through
/// [`PoolBuilder::object`] (ten million of them do not fit twice in memory).
pub struct PoolBuilder {
    draw_date: NaiveDate,
    source: TierSource,
    // Looked up once per object, never iterated: a hash map, so order cannot leak out.
    standing: HashMap<ObjectId, Standing>,
}

impl PoolBuilder {
    pub fn new(draw_date: NaiveDate, source: TierSource) -> Self {
        Self {
            draw_date,
            source,
            standing: HashMap::new(),
        }
    }

    /// Records after the draw date are ignored: the pool is as of it.
    pub fn add_penalties(&mut self, penalties: impl IntoIterator<Item = PenaltyFacts>) {
        let draw_date = self.draw_date;
        let window_start = draw_date
            .checked_sub_months(Months::new(12))
            .unwrap_or(NaiveDate::MIN);
        for c in penalties {
            match c.kind {
                PenaltyKind::Penalty if c.date > window_start && c.date <= draw_date => {
                    self.standing.entry(c.object_id).or_default().penalties += 1;
                }
                PenaltyKind::JointPunishment
                    if c.date <= draw_date && c.until.is_none_or(|u| u > draw_date) =>
                {
                    self.standing.entry(c.object_id).or_default().listed = true;
                }
                _ => {}
            }
        }
    }

    /// Inspections after the draw date are ignored.
    pub fn add_inspections(&mut self, inspections: impl IntoIterator<Item = InspectionFacts>) {
        for i in inspections.into_iter().filter(|i| i.date <= self.draw_date) {
            match &mut self.standing.entry(i.object_id).or_default().last {
                Some((d, inspectors)) if *d <= i.date => {
                    // Two inspections on one day: both teams count as previous inspectors.
                    if *d == i.date {
                        inspectors.extend(i.inspectors);
                    } else {
                        *d = i.date;
                        *inspectors = i.inspectors;
                    }
                }
                Some(_) => {}
                last @ None => *last = Some((i.date, i.inspectors)),
            }
        }
    }

    #[cfg(test)]
    pub fn tier_of(&self, id: &ObjectId, credit_class: Option<&str>) -> Result<String, CoreError> {
        self.tier(self.standing.get(id), id, credit_class)
            .map(str::to_owned)
    }

    fn tier<'a>(
        &self,
        standing: Option<&Standing>,
        id: &ObjectId,
        credit_class: Option<&'a str>,
    ) -> Result<&'a str, CoreError> {
        match self.source {
            TierSource::Penalties => Ok(tier_from_penalties(
                standing.map_or(0, |s| s.penalties),
                standing.is_some_and(|s| s.listed),
            )),
            TierSource::Class => credit_class.ok_or_else(|| {
                CoreError::Input(format!(
                    "object {id}: no credit_class, and this deployment takes tiers from it"
                ))
            }),
        }
    }

    pub fn object(&self, o: ObjectFacts<'_>) -> Result<Object, CoreError> {
        let standing = self.standing.get(&o.id);
        let tier = Label::new(self.tier(standing, &o.id, o.credit_class.as_deref())?);
        let (last_inspected, last_inspectors) = match standing.and_then(|s| s.last.as_ref()) {
            Some((d, i)) => (Some(*d), i.clone().into_boxed_slice()),
            None => (None, Box::default()),
        };
        Ok(Object {
            id: o.id,
            name: o.name.into(),
            kind: Label::new(&o.kind),
            region: Label::new(&o.region),
            industry: Label::new(&o.industry),
            tier,
            status: o.status,
            last_inspected,
            last_inspectors,
            attributes: o.attributes,
        })
    }

    /// Active inspectors only; an inactive one is not in the pool at all.
    pub fn inspector(&self, i: InspectorRecord) -> Option<Inspector> {
        i.active.then(|| Inspector {
            id: i.id,
            name: i.name,
            departments: i.departments,
            region: i.region,
            specialties: i.specialties,
            certificate_no: i.certificate_no,
            certificate_expiry: i.certificate_expiry,
            conflicts: i.conflicts,
            max_load: i.max_load,
        })
    }
}

/// The roots a stored snapshot is addressed by: the commitment without the task, the secret and
/// the entropy, which belong to a draw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolRoots {
    #[serde(with = "hex32")]
    pub policy_hash: Hash,
    pub strata: Vec<StratumHead>,
    pub excluded: TreeHead,
    pub ids: TreeHead,
    pub inspectors: TreeHead,
}

impl PoolRoots {
    pub fn of(pool: &CommittedPool, policy: &Policy) -> Self {
        Self {
            policy_hash: policy.hash(pool.protocol),
            strata: pool.heads.clone(),
            excluded: pool.excluded.clone(),
            ids: pool.ids.clone(),
            inspectors: pool.inspectors.clone(),
        }
    }

    /// The snapshot's address: SHA-256 over the roots, domain-separated.
    pub fn address(&self) -> Hash {
        let mut e = Encoder::with_domain("double-random/v1 snapshot");
        e.hash(&self.policy_hash).count(self.strata.len());
        for s in &self.strata {
            e.str(&s.tier).bool(s.cooled).u64(s.count).hash(&s.root);
        }
        for t in [&self.excluded, &self.ids, &self.inspectors] {
            e.u64(t.count).hash(&t.root);
        }
        e.sha256()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn penalty(id: &str, d: &str, doc: &str) -> PenaltyRecord {
        PenaltyRecord {
            object_id: ObjectId::parse(id).unwrap(),
            kind: PenaltyKind::Penalty,
            date: date(d),
            until: None,
            authority: "市监局".into(),
            document_no: doc.into(),
        }
    }

    fn object(id: &str) -> ObjectRecord {
        ObjectRecord {
            id: ObjectId::parse(id).unwrap(),
            name: "x".into(),
            kind: "product".into(),
            region: String::new(),
            industry: String::new(),
            status: ObjectStatus::Active,
            tags: vec![],
            credit_class: Some("B".into()),
            attributes: BTreeMap::new(),
        }
    }

    #[test]
    fn tier_counts_penalties_in_the_twelve_months_up_to_the_draw_date() {
        let penalties = vec![
            penalty("a", "2025-12-01", "1"), // exactly 12 months before: outside
            penalty("a", "2025-12-02", "2"),
            penalty("a", "2026-12-01", "3"), // on the draw date: inside
            penalty("a", "2026-12-02", "4"), // after: ignored
            penalty("b", "2026-06-01", "5"),
            PenaltyRecord {
                kind: PenaltyKind::JointPunishment,
                until: Some(date("2026-12-01")),
                ..penalty("c", "2026-01-01", "6")
            },
            PenaltyRecord {
                kind: PenaltyKind::JointPunishment,
                until: None,
                ..penalty("d", "2020-01-01", "7")
            },
        ];
        let mut b = PoolBuilder::new(date("2026-12-01"), TierSource::Penalties);
        b.add_penalties(penalties.into_iter().map(PenaltyFacts::from));
        let tier = |id| {
            let o = object(id);
            b.tier_of(&o.id, o.credit_class.as_deref()).unwrap()
        };
        assert_eq!(tier("a"), "watch");
        assert_eq!(tier("b"), "notice");
        assert_eq!(tier("c"), "good", "removed from the list on the draw date");
        assert_eq!(tier("d"), "focus");
        assert_eq!(tier("e"), "good");
        let by_class = PoolBuilder::new(date("2026-12-01"), TierSource::Class);
        let a = object("a");
        assert_eq!(
            by_class.tier_of(&a.id, a.credit_class.as_deref()).unwrap(),
            "B"
        );
    }

    #[test]
    fn last_inspection_is_the_latest_up_to_the_draw_date() {
        let ins = |d: &str, who: &[&str]| InspectionRecord {
            object_id: ObjectId::parse("a").unwrap(),
            date: date(d),
            inspectors: who.iter().map(|w| InspectorId::parse(w).unwrap()).collect(),
            result: String::new(),
            task: String::new(),
        };
        let mut b = PoolBuilder::new(date("2026-12-01"), TierSource::Penalties);
        b.add_inspections(
            [
                ins("2026-03-01", &["p1", "p2"]),
                ins("2026-09-01", &["p3", "p4"]),
                ins("2027-01-01", &["p5", "p6"]),
            ]
            .map(InspectionFacts::from),
        );
        let record = object("a");
        let o = b.object(ObjectFacts::from(&record)).unwrap();
        assert_eq!(o.last_inspected, Some(date("2026-09-01")));
        assert_eq!(o.last_inspectors.len(), 2);
        assert_eq!(o.last_inspectors[0].as_str(), "p3");
    }
}
