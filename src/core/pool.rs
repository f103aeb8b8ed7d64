//! From snapshot + policy to the committed pool: eligibility, strata, leaves keyed by the
//! private salt key, Merkle roots, and the commitment that is published before any randomness exists (draw-spec §3, §4, §7).

use std::sync::LazyLock;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::encode::{Encoder, Hash, hex32, sha256};
use super::entropy::{Announced, EntropySource};
use super::inspector_leaf::inspector_leaf;
use super::merkle::{self, Tree};
use super::model::{Object, ObjectId, ObjectStatus, PublicObject, Snapshot};
use super::policy::{CooldownAction, Policy};
use super::{CoreError, Protocol};

/// Why an object of the snapshot is not in any stratum. Recorded in its (private) leaf, so an
/// enterprise can be shown why it could not be drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclusion {
    Status(ObjectStatus),
    Kind,
    Region,
    Industry,
    Cooldown,
}

impl Exclusion {
    pub fn code(self) -> &'static str {
        match self {
            Self::Status(ObjectStatus::Active) => {
                unreachable!("active objects are not excluded for status")
            }
            Self::Status(ObjectStatus::Closed) => "status:closed",
            Self::Status(ObjectStatus::Deregistered) => "status:deregistered",
            Self::Status(ObjectStatus::Revoked) => "status:revoked",
            Self::Kind => "scope:kind",
            Self::Region => "scope:region",
            Self::Industry => "scope:industry",
            Self::Cooldown => "cooldown",
        }
    }
}

/// Where one object stands before the draw: excluded, or in a stratum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    Excluded(Exclusion),
    Stratum(usize),
}

/// A stratum: one tier, split in two when recently inspected objects are down-weighted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stratum {
    pub tier: usize,
    pub cooled: bool,
    /// Indices into the snapshot's objects, in tree order: v1 ascending (id order), v2 by leaf
    /// hash, so that a leaf's position says nothing of the object's rank by id (draw-spec §4.2).
    pub members: Vec<u32>,
    /// The members' leaves, in the same order (empty until the pool is built).
    pub leaves: Vec<Hash>,
}

pub fn stratum_label(tier: &str, cooled: bool) -> String {
    if cooled {
        format!("{tier}+cooldown")
    } else {
        tier.to_owned()
    }
}

/// Why an object with these public fields could not be in any stratum, by status or scope.
/// Cooldown is not decided here: it depends on the private last-inspection date.
pub fn public_exclusion(policy: &Policy, o: &PublicObject) -> Option<Exclusion> {
    scope_exclusion(policy, o.status, &o.kind, &o.region, &o.industry)
}

fn scope_exclusion(
    policy: &Policy,
    status: ObjectStatus,
    kind: &str,
    region: &str,
    industry: &str,
) -> Option<Exclusion> {
    let in_scope = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
    let s = &policy.scope;
    if status != ObjectStatus::Active {
        Some(Exclusion::Status(status))
    } else if !in_scope(&s.kinds, kind) {
        Some(Exclusion::Kind)
    } else if !in_scope(&s.regions, region) {
        Some(Exclusion::Region)
    } else if !in_scope(&s.industries, industry) {
        Some(Exclusion::Industry)
    } else {
        None
    }
}

/// Decides each object's placement. Fails only on a tier the policy does not define.
pub fn place(snapshot: &Snapshot, policy: &Policy) -> Result<Vec<Placement>, CoreError> {
    // The first object with an unknown tier in id order (find_first is deterministic).
    if let Some(o) = snapshot
        .objects()
        .par_iter()
        .find_first(|o| policy.tier_index(&o.tier).is_none())
    {
        return Err(CoreError::UnknownTier {
            object: o.id.to_string(),
            tier: o.tier.to_string(),
            known: policy
                .tiers
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let downweight = matches!(&policy.cooldown, Some(c) if c.action == CooldownAction::Downweight);
    Ok(snapshot
        .objects()
        .par_iter()
        .map(|o| {
            let tier = policy.tier_index(&o.tier).expect("checked above");
            let excluded = scope_exclusion(policy, o.status, &o.kind, &o.region, &o.industry);
            let cooled = policy
                .cooldown
                .as_ref()
                .is_some_and(|c| recently_inspected(o, policy, c.days));
            match excluded {
                Some(e) => Placement::Excluded(e),
                None if cooled && !downweight => Placement::Excluded(Exclusion::Cooldown),
                None => Placement::Stratum(tier * 2 + usize::from(cooled)),
            }
        })
        .collect())
}

/// Inspected fewer than `days` days before the draw date; a date after the draw date counts as
/// the draw date itself (age 0), so `days = 0` never cools anything.
fn recently_inspected(o: &Object, policy: &Policy, days: u32) -> bool {
    o.last_inspected.is_some_and(|d| {
        policy.draw_date.signed_duration_since(d).num_days().max(0) < i64::from(days)
    })
}

/// Groups placements into strata: index `2·tier + cooled`, so the order is the policy's tier order.
pub fn strata(policy: &Policy, placements: &[Placement]) -> Vec<Stratum> {
    let mut strata: Vec<Stratum> = (0..policy.tiers.len() * 2)
        .map(|i| Stratum {
            tier: i / 2,
            cooled: i % 2 == 1,
            members: Vec::new(),
            leaves: Vec::new(),
        })
        .collect();
    for (i, p) in placements.iter().enumerate() {
        if let Placement::Stratum(s) = p {
            strata[*s].members.push(i as u32);
        }
    }
    strata
}

/// The hasher state after the first block (label hash ‖ salt key), shared by every object.
pub fn private_prefix(protocol: Protocol, salt_key: &Hash) -> Sha256 {
    static LABELS: LazyLock<[Hash; 2]> =
        LazyLock::new(|| Protocol::ALL.map(|p| sha256(p.label("private").as_bytes())));
    let mut h = Sha256::new();
    h.update(LABELS[protocol as usize]);
    h.update(salt_key);
    h
}

/// SHA-256(SHA-256("double-random/vN private") ‖ salt key ‖ lp(id) ‖ private encoding). The salt
/// key is never published, so the digest of a drawn object's tier, dates and attributes cannot be
/// reversed by guessing, and a neighbour's leaf in a proof tells nothing.
pub fn private_digest(prefix: &Sha256, o: &Object) -> Hash {
    with_scratch(|buf| {
        let mut e = Encoder::over(buf);
        e.str(o.id.as_str());
        o.encode_private_to(&mut e);
        prefix.clone().chain_update(&buf[..]).finalize().into()
    })
}

/// Leaf of an object: RFC 6962 leaf hash of private digest ‖ public encoding [‖ lp(reason)].
pub fn object_leaf(
    private_digest: &Hash,
    public: impl FnOnce(&mut Encoder<&mut Vec<u8>>),
    reason: Option<&str>,
) -> Hash {
    with_scratch(|buf| {
        let mut e = Encoder::over(buf);
        e.u8(0).hash(private_digest);
        public(&mut e);
        if let Some(r) = reason {
            e.str(r);
        }
        sha256(buf)
    })
}

/// A per-thread buffer: a record is encoded whole and hashed in one call, which is much
/// cheaper than feeding the hasher a dozen short pieces.
fn with_scratch<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|buf| {
        buf.clear();
        f(buf)
    })
}

pub fn leaf_of(prefix: &Sha256, o: &Object, reason: Option<&str>) -> Hash {
    let private = private_digest(prefix, o);
    object_leaf(&private, |e| o.encode_public_to(e), reason)
}

pub fn id_leaf(id: &ObjectId) -> Hash {
    let mut e = Encoder::hashing(Sha256::new());
    e.u8(0).str(id.as_str());
    e.finish()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHead {
    pub count: u64,
    #[serde(with = "hex32")]
    pub root: Hash,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StratumHead {
    pub tier: String,
    pub cooled: bool,
    pub count: u64,
    #[serde(with = "hex32")]
    pub root: Hash,
}

/// What is published before the randomness exists. Its hash binds the seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    pub protocol: Protocol,
    pub task_id: String,
    #[serde(with = "hex32")]
    pub policy_hash: Hash,
    pub strata: Vec<StratumHead>,
    pub excluded: TreeHead,
    /// Every object id of the snapshot, sorted: proves an id was, or was not, in the pool.
    pub ids: TreeHead,
    pub inspectors: TreeHead,
    #[serde(with = "hex32")]
    pub secret_hash: Hash,
    /// The public randomness announced in advance, described for people (a lottery draw, a
    /// drand round, …); in v1 its drand lines are what binds a beacon (draw-spec §20.1).
    pub entropy_source: String,
    /// v2: the announced sources, one per entropy value, in order (draw-spec §7.6); absent in v1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entropy_sources: Vec<EntropySource>,
    /// v2: the task accepted less than 64 bits of entropy (published); absent (false) in v1.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_weak_entropy: bool,
}

impl Commitment {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_domain(&self.protocol.label("commitment"));
        e.str(self.protocol.id())
            .str(&self.task_id)
            .hash(&self.policy_hash)
            .count(self.strata.len());
        for s in &self.strata {
            e.str(&s.tier).bool(s.cooled).u64(s.count).hash(&s.root);
        }
        for t in [&self.excluded, &self.ids, &self.inspectors] {
            e.u64(t.count).hash(&t.root);
        }
        e.hash(&self.secret_hash).str(&self.entropy_source);
        match self.protocol {
            Protocol::V1 => {}
            Protocol::V2 => {
                e.count(self.entropy_sources.len());
                for s in &self.entropy_sources {
                    s.encode(&mut e);
                }
                e.bool(self.allow_weak_entropy);
            }
        }
        e.into_bytes()
    }

    pub fn hash(&self) -> Hash {
        sha256(&self.encode())
    }

    /// What this commitment announced about its entropy.
    pub fn announced(&self) -> Announced {
        Announced {
            text: self.entropy_source.clone(),
            sources: self.entropy_sources.clone(),
            allow_weak: self.allow_weak_entropy,
        }
    }
}

/// The pool after placement, with everything the commitment needs.
#[derive(Debug)]
pub struct CommittedPool {
    /// The rules the pool was built under (leaf labels and order, tickets, …).
    pub protocol: Protocol,
    pub placements: Vec<Placement>,
    pub strata: Vec<Stratum>,
    pub heads: Vec<StratumHead>,
    pub excluded: TreeHead,
    pub ids: TreeHead,
    pub inspectors: TreeHead,
    /// Excluded objects (snapshot indices) and their leaves, in tree order.
    pub excluded_members: Vec<u32>,
    pub excluded_leaves: Vec<Hash>,
}

impl CommittedPool {
    pub fn build(
        snapshot: &Snapshot,
        policy: &Policy,
        salt_key: &Hash,
        protocol: Protocol,
    ) -> Result<Self, CoreError> {
        let placements = place(snapshot, policy)?;
        let mut strata = strata(policy, &placements);
        let prefix = private_prefix(protocol, salt_key);
        for s in &mut strata {
            let (members, leaves) = tree_order(
                protocol,
                s.members
                    .par_iter()
                    .map(|&i| (i, leaf_of(&prefix, &snapshot.objects()[i as usize], None)))
                    .collect(),
            );
            (s.members, s.leaves) = (members, leaves);
        }
        let heads = strata
            .iter()
            .map(|s| StratumHead {
                tier: policy.tiers[s.tier].name.clone(),
                cooled: s.cooled,
                count: s.members.len() as u64,
                root: merkle::root(&s.leaves),
            })
            .collect();
        let (excluded_members, excluded_leaves) =
            excluded_leaves(protocol, snapshot, &placements, salt_key);
        let id_leaves = id_leaves(snapshot);
        let inspector_leaves: Vec<Hash> = snapshot
            .inspectors()
            .par_iter()
            .map(|i| inspector_leaf(protocol, salt_key, policy.draw_date, i))
            .collect();
        Ok(Self {
            protocol,
            heads,
            excluded: TreeHead {
                count: excluded_leaves.len() as u64,
                root: merkle::root(&excluded_leaves),
            },
            ids: TreeHead {
                count: id_leaves.len() as u64,
                root: merkle::root(&id_leaves),
            },
            inspectors: TreeHead {
                count: inspector_leaves.len() as u64,
                root: merkle::root(&inspector_leaves),
            },
            placements,
            strata,
            excluded_members,
            excluded_leaves,
        })
    }

    /// Position of object `idx` (whose leaf is `leaf`) among `members` in tree order.
    pub fn leaf_index(&self, members: &[u32], leaves: &[Hash], idx: u32, leaf: &Hash) -> usize {
        match self.protocol {
            Protocol::V1 => members.binary_search(&idx),
            Protocol::V2 => leaves.binary_search(leaf),
        }
        .expect("a member of this tree")
    }

    /// The commitment under the pool's protocol; v1 keeps only the announcement's text.
    pub fn commitment(
        &self,
        task_id: &str,
        policy: &Policy,
        secret_hash: Hash,
        announced: &Announced,
    ) -> Commitment {
        let v2 = self.protocol != Protocol::V1;
        Commitment {
            protocol: self.protocol,
            task_id: task_id.into(),
            policy_hash: policy.hash(self.protocol),
            strata: self.heads.clone(),
            excluded: self.excluded.clone(),
            ids: self.ids.clone(),
            inspectors: self.inspectors.clone(),
            secret_hash,
            entropy_source: announced.text.clone(),
            entropy_sources: if v2 {
                announced.sources.clone()
            } else {
                Vec::new()
            },
            allow_weak_entropy: v2 && announced.allow_weak,
        }
    }
}

/// Leaves in tree order (draw-spec §4.2): v1 as given (id order), v2 by leaf hash ascending.
fn tree_order(protocol: Protocol, mut pairs: Vec<(u32, Hash)>) -> (Vec<u32>, Vec<Hash>) {
    if protocol == Protocol::V2 {
        pairs.par_sort_unstable_by(|a, b| a.1.cmp(&b.1));
    }
    pairs.into_iter().unzip()
}

pub fn stratum_tree(s: &Stratum) -> Tree {
    Tree::new(s.leaves.clone())
}

/// The excluded objects (snapshot indices) and their leaves, which carry the reason, in tree order.
fn excluded_leaves(
    protocol: Protocol,
    snapshot: &Snapshot,
    placements: &[Placement],
    salt_key: &Hash,
) -> (Vec<u32>, Vec<Hash>) {
    let objects = snapshot.objects();
    let prefix = private_prefix(protocol, salt_key);
    tree_order(
        protocol,
        placements
            .par_iter()
            .enumerate()
            .filter_map(|(i, p)| match p {
                Placement::Excluded(e) => {
                    Some((i as u32, leaf_of(&prefix, &objects[i], Some(e.code()))))
                }
                Placement::Stratum(_) => None,
            })
            .collect(),
    )
}

fn id_leaves(snapshot: &Snapshot) -> Vec<Hash> {
    snapshot
        .objects()
        .par_iter()
        .map(|o| id_leaf(&o.id))
        .collect()
}

pub fn id_tree(snapshot: &Snapshot) -> Tree {
    Tree::new(id_leaves(snapshot))
}
