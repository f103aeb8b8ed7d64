//! What of an inspector is published and what is only committed (draw-spec §3.3, v2): the
//! public part the matching replay needs, and a digest keyed by the salt key over the rest
//! (certificate number and expiry, declared conflicts), so that a public bundle names no
//! certificate number and no conflict with an enterprise that was not drawn.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use super::Protocol;
use super::encode::{Encoder, Hash, hex32, sha256};
use super::merkle;
use super::model::{Inspector, InspectorId, ObjectId, date_bytes};

/// An inspector as a v2 public bundle lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicInspector {
    pub id: InspectorId,
    pub name: String,
    pub departments: Vec<String>,
    pub region: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specialties: Vec<String>,
    /// Certificate expiry on or after the policy's draw date.
    pub certificate_valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_load: Option<u32>,
    /// Keyed by the salt key over certificate number, expiry and every declared conflict.
    #[serde(with = "hex32")]
    pub private_digest: Hash,
    /// Declared conflicts with drawn objects only (what the matching replay reads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ObjectId>,
}

/// lp(id) ‖ lp(name) ‖ strs(departments) ‖ lp(region) ‖ strs(specialties) ‖ bool(valid) ‖ opt u32.
#[allow(clippy::too_many_arguments)]
fn encode_public(
    e: &mut Encoder,
    id: &InspectorId,
    name: &str,
    departments: &[String],
    region: &str,
    specialties: &[String],
    certificate_valid: bool,
    max_load: Option<u32>,
) {
    e.str(id.as_str())
        .str(name)
        .strs(departments)
        .str(region)
        .strs(specialties)
        .bool(certificate_valid);
    match max_load {
        None => e.u8(0),
        Some(m) => e.u8(1).u32(m),
    };
}

fn leaf(public: impl FnOnce(&mut Encoder), private_digest: &Hash) -> Hash {
    let mut e = Encoder::new();
    public(&mut e);
    e.hash(private_digest);
    merkle::leaf_hash(&e.into_bytes())
}

/// SHA-256(SHA-256("double-random/v2 inspector private") ‖ salt key ‖ lp(id) ‖ lp(certificate_no)
/// ‖ date(certificate_expiry) ‖ strs(conflicts)).
pub fn private_digest(salt_key: &Hash, i: &Inspector) -> Hash {
    static LABEL: LazyLock<Hash> =
        LazyLock::new(|| sha256(Protocol::V2.label("inspector private").as_bytes()));
    let mut e = Encoder::new();
    e.str(i.id.as_str())
        .str(&i.certificate_no)
        .bytes(&date_bytes(i.certificate_expiry))
        .strs(&i.conflicts.iter().map(ObjectId::as_str).collect::<Vec<_>>());
    Sha256::new()
        .chain_update(*LABEL)
        .chain_update(salt_key)
        .chain_update(e.into_bytes())
        .finalize()
        .into()
}

/// The inspector's leaf in the inspectors tree: v1 the whole record (§3.3); v2 the public part
/// ‖ the keyed private digest.
pub fn inspector_leaf(
    protocol: Protocol,
    salt_key: &Hash,
    draw_date: NaiveDate,
    i: &Inspector,
) -> Hash {
    match protocol {
        Protocol::V1 => merkle::leaf_hash(&i.encode()),
        Protocol::V2 => PublicInspector::of(i, salt_key, draw_date, &BTreeSet::new()).leaf(),
    }
}

impl PublicInspector {
    /// The published form of `i`, its conflicts cut down to `drawn`.
    pub fn of(
        i: &Inspector,
        salt_key: &Hash,
        draw_date: NaiveDate,
        drawn: &BTreeSet<&ObjectId>,
    ) -> Self {
        PublicInspector {
            id: i.id.clone(),
            name: i.name.clone(),
            departments: i.departments.clone(),
            region: i.region.clone(),
            specialties: i.specialties.clone(),
            certificate_valid: i.certificate_expiry >= draw_date,
            max_load: i.max_load,
            private_digest: private_digest(salt_key, i),
            conflicts: i
                .conflicts
                .iter()
                .filter(|o| drawn.contains(o))
                .cloned()
                .collect(),
        }
    }

    pub fn leaf(&self) -> Hash {
        leaf(
            |e| {
                encode_public(
                    e,
                    &self.id,
                    &self.name,
                    &self.departments,
                    &self.region,
                    &self.specialties,
                    self.certificate_valid,
                    self.max_load,
                )
            },
            &self.private_digest,
        )
    }

    /// The record the matching replay reads: the published conflicts, and an expiry on the draw
    /// date (valid) or the day before (not valid); no certificate number. `None` when the draw
    /// date is the first representable day and the certificate is not valid.
    pub fn for_matching(&self, draw_date: NaiveDate) -> Option<Inspector> {
        let expiry = if self.certificate_valid {
            draw_date
        } else {
            draw_date.checked_sub_days(Days::new(1))?
        };
        Some(Inspector {
            id: self.id.clone(),
            name: self.name.clone(),
            departments: self.departments.clone(),
            region: self.region.clone(),
            specialties: self.specialties.clone(),
            certificate_no: String::new(),
            certificate_expiry: expiry,
            conflicts: self.conflicts.clone(),
            max_load: self.max_load,
        })
    }
}

/// A public bundle's `inspectors`: whole records in v1, public parts in v2. Read by shape (a v2
/// entry has `private_digest`); which shape the protocol needs is checked on verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PublishedInspectors {
    V1(Vec<Inspector>),
    V2(Vec<PublicInspector>),
}

impl<'de> Deserialize<'de> for PublishedInspectors {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let list = Vec::<serde_json::Value>::deserialize(d)?;
        let v2 = list
            .first()
            .is_some_and(|v| v.get("private_digest").is_some());
        fn each<T: serde::de::DeserializeOwned, E: Error>(
            list: Vec<serde_json::Value>,
        ) -> Result<Vec<T>, E> {
            list.into_iter()
                .enumerate()
                .map(|(i, v)| T::deserialize(v).map_err(|e| E::custom(format!("[{i}]: {e}"))))
                .collect()
        }
        Ok(if v2 {
            Self::V2(each(list)?)
        } else {
            Self::V1(each(list)?)
        })
    }
}

impl PublishedInspectors {
    pub fn len(&self) -> usize {
        match self {
            Self::V1(l) => l.len(),
            Self::V2(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records the matching replay reads (draw-spec §13 step 6): the list must have the
    /// protocol's shape, and a v2 list may name conflicts with `drawn` objects only. Else the
    /// first problem as (field, expected, found).
    pub fn for_replay(
        &self,
        protocol: Protocol,
        draw_date: NaiveDate,
        drawn: &BTreeSet<&ObjectId>,
    ) -> Result<Vec<Inspector>, (String, String, String)> {
        match (protocol, self) {
            (Protocol::V1, Self::V1(list)) => Ok(list.clone()),
            (Protocol::V2, Self::V1(list)) if list.is_empty() => Ok(Vec::new()),
            (Protocol::V2, Self::V2(list)) => list
                .iter()
                .enumerate()
                .map(|(k, i)| {
                    if let Some(o) = i.conflicts.iter().find(|o| !drawn.contains(o)) {
                        return Err((
                            format!("inspectors[{k}].conflicts"),
                            "conflicts with drawn objects only".into(),
                            o.to_string(),
                        ));
                    }
                    i.for_matching(draw_date).ok_or_else(|| {
                        (
                            format!("inspectors[{k}].certificate_valid"),
                            "a certificate that can be invalid on the draw date".into(),
                            "false on the first representable day".into(),
                        )
                    })
                })
                .collect(),
            _ => Err((
                "inspectors".into(),
                format!("the inspector list as {protocol} publishes it"),
                "the other version's shape".into(),
            )),
        }
    }

    /// The inspectors tree's leaves in id order, over the records as published, normalised
    /// (§3.4): v1 from `records` (the list normalised as a snapshot), v2 from the public parts.
    pub fn leaves(&self, records: &[Inspector]) -> Vec<Hash> {
        match self {
            Self::V1(_) => records
                .iter()
                .map(|i| merkle::leaf_hash(&i.encode()))
                .collect(),
            Self::V2(list) => {
                let mut list = list.clone();
                list.sort_by(|a, b| a.id.cmp(&b.id));
                list.iter_mut()
                    .map(|i| {
                        for l in [&mut i.departments, &mut i.specialties] {
                            l.sort();
                            l.dedup();
                        }
                        i.leaf()
                    })
                    .collect()
            }
        }
    }
}
