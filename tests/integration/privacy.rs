//! Issue 11, items 2 and 3 (draw-spec §4.2, §6.3, §6.4, §10, §13): the attacks run against
//! v1 and v2 bundles. What v1 lets anyone infer about objects that were not drawn, and what v2
//! leaves; replacements held to the policy's caps; recusal streams fixed by what they replace.

use std::collections::BTreeSet;

use double_random::core::Protocol;
use double_random::core::bundle::{
    DrawInputs, FullBundle, PublicBundle, verify_full, verify_public,
};
use double_random::core::draw::{self, ReplacementRequest};
use double_random::core::inspector_leaf::PublishedInspectors;
use double_random::core::model::{InspectorId, ObjectId, PublicObject};
use double_random::core::policy::Policy;
use double_random::core::pool::{self as committed, CommittedPool, Placement};
use double_random::core::replacement::{ObjectReason, RecusalReason};
use serde_json::Value;

use crate::support::*;

fn make(inputs: DrawInputs, protocol: Protocol) -> (FullBundle, CommittedPool) {
    FullBundle::create(DrawInputs { protocol, ..inputs }).unwrap()
}

/// What a claim of the attack says: object `id` is in stratum `stratum`.
type Claim = (ObjectId, usize);

/// The rank attack of issue 11 on a public bundle and a public registry (every id of the pool
/// with its public fields, sorted by id). A drawn object's `leaf_index` is, in v1, its rank by
/// id among its stratum's members: between two drawn objects of a stratum that are neighbours
/// in leaf order lie exactly `leaf_index` difference − 1 members, all of them among the registry
/// ids between the two. Every active, in-scope object that was not drawn is in some stratum
/// (the policy down-weights rather than excludes recent inspections), so the attack keeps, for
/// each such object, the strata it can still be in and narrows them until nothing changes:
/// a gap with no place rules its stratum out for every id in it; a gap with as many candidates
/// as places takes them all; when a gap's places are filled by objects known to be there, the
/// others are ruled out. With v1 tickets (anyone computes them from the id) an object whose
/// ticket is at or under a stratum's cutoff is not in it: it would have been drawn. An object
/// left with one stratum is placed.
fn rank_attack(b: &PublicBundle, registry: &[PublicObject], tickets_public: bool) -> Vec<Claim> {
    let drawn: BTreeSet<&ObjectId> = b.drawn.iter().map(|d| &d.object.id).collect();
    let position = |id: &ObjectId| registry.binary_search_by(|o| o.id.cmp(id)).unwrap();
    let strata = b.commitment.strata.len();
    assert!(strata <= 32);
    // possible[r]: bit s set while the object at registry position r may be in stratum s.
    let mut possible: Vec<u32> = registry
        .iter()
        .map(|o| {
            if drawn.contains(&o.id) || committed::public_exclusion(&b.policy, o).is_some() {
                return 0;
            }
            let t =
                tickets_public.then(|| draw::ticket(Protocol::V1, &b.result.seed, &o.id, &[0; 32]));
            (0..strata)
                .filter(|&s| match (t, b.result.strata[s].cutoff) {
                    (Some(t), Some(c)) => t > c,
                    _ => true,
                })
                .fold(0, |m, s| m | 1 << s)
        })
        .collect();
    // Gaps per stratum: (places, registry positions strictly between the two drawn objects).
    let mut gaps: Vec<(usize, u64, Vec<usize>)> = Vec::new();
    for (s, head) in b.commitment.strata.iter().enumerate() {
        let mut marks: Vec<(i64, i64)> = b
            .drawn
            .iter()
            .filter(|d| d.stratum as usize == s)
            .map(|d| (d.leaf_index as i64, position(&d.object.id) as i64))
            .collect();
        marks.sort();
        marks.insert(0, (-1, -1));
        marks.push((head.count as i64, registry.len() as i64));
        for w in marks.windows(2) {
            let places = (w[1].0 - w[0].0 - 1) as u64;
            let ids = ((w[0].1 + 1).max(0)..w[1].1.max(0))
                .map(|r| r as usize)
                .collect();
            gaps.push((s, places, ids));
        }
    }
    loop {
        let before = possible.clone();
        for (s, places, ids) in &gaps {
            let bit = 1u32 << s;
            let can: Vec<usize> = ids
                .iter()
                .copied()
                .filter(|&r| possible[r] & bit != 0)
                .collect();
            let sure = can.iter().filter(|&&r| possible[r] == bit).count() as u64;
            if can.len() as u64 == *places {
                can.iter().for_each(|&r| possible[r] = bit);
            } else if sure == *places {
                for &r in &can {
                    if possible[r] != bit {
                        possible[r] &= !bit;
                    }
                }
            }
        }
        if possible == before {
            break;
        }
    }
    possible
        .iter()
        .enumerate()
        .filter(|(_, m)| m.count_ones() == 1)
        .map(|(r, m)| (registry[r].id.clone(), m.trailing_zeros() as usize))
        .collect()
}

struct Score {
    claims: usize,
    correct: usize,
    wrong: usize,
    /// Correct claims of a cooled stratum: "inspected in the last year", proven.
    cooled: usize,
    /// What guessing would get right, at most (mean + 4 standard deviations + 1), guessing
    /// each object's stratum from what the public knows anyway: it was not drawn, so stratum
    /// `s` has probability (N_s − n_s) / Σ (N_t − n_t).
    chance_bound: f64,
}

fn score(b: &PublicBundle, pool: &CommittedPool, full: &FullBundle, claims: &[Claim]) -> Score {
    let left: Vec<f64> = b
        .result
        .strata
        .iter()
        .map(|s| (s.population - s.sample) as f64)
        .collect();
    let total: f64 = left.iter().sum();
    let (mut mean, mut var) = (0.0, 0.0);
    let (mut correct, mut cooled) = (0, 0);
    for (id, s) in claims {
        let p = left[*s] / total;
        mean += p;
        var += p * (1.0 - p);
        let idx = full.snapshot.object_index(id).unwrap();
        if pool.placements[idx] == Placement::Stratum(*s) {
            correct += 1;
            cooled += usize::from(b.commitment.strata[*s].cooled);
        }
    }
    Score {
        claims: claims.len(),
        correct,
        wrong: claims.len() - correct,
        cooled,
        chance_bound: mean + 4.0 * var.sqrt() + 1.0,
    }
}

/// Issue 11 item 3: with v1, the drawn objects' leaf positions, the published cutoffs and a
/// public registry place non-drawn enterprises in their exact stratum (tier, and whether they
/// were inspected in the last year) with no wrong inference. With v2 (leaves ordered by their
/// keyed hash, tickets keyed by the leaf) the same attack does no better than guessing.
#[test]
fn rank_inference_from_leaf_positions_works_on_v1_and_not_on_v2() {
    let (objects, inspectors) = pool(20_000, 400, 31);
    let registry: Vec<PublicObject> = {
        let mut r: Vec<PublicObject> = objects.iter().map(|o| o.public_part()).collect();
        r.sort_by(|a, b| a.id.cmp(&b.id));
        r
    };
    for protocol in Protocol::ALL {
        let (full, pool) = make(
            inputs(
                demo_policy(),
                objects.clone(),
                inspectors.clone(),
                "privacy",
            ),
            protocol,
        );
        let public = PublicBundle::from_full(&full, &pool);
        assert!(verify_public(&public).valid);
        let claims = rank_attack(&public, &registry, protocol == Protocol::V1);
        let s = score(&public, &pool, &full, &claims);
        eprintln!(
            "{protocol}: {} claims, {} right ({} of them cooled: inspected in the last year), {} wrong; guessing gets at most {:.1} right",
            s.claims, s.correct, s.cooled, s.wrong, s.chance_bound
        );
        match protocol {
            Protocol::V1 => {
                assert!(
                    s.correct >= 20 && s.wrong == 0,
                    "the v1 attack should place objects exactly"
                );
                assert!(s.correct as f64 > s.chance_bound);
            }
            Protocol::V2 => assert!(
                s.correct as f64 <= s.chance_bound,
                "v2 leaf positions still place objects: {} right of {}",
                s.correct,
                s.claims
            ),
        }
    }
}

/// v2 tickets: a drawn object's ticket is checkable from its published leaf; the id-only
/// ticket of v1 no longer matches, so no other object's ticket can be computed from its id.
#[test]
fn v2_tickets_are_keyed_by_the_leaf_and_leaves_are_not_in_id_order() {
    let (objects, inspectors) = pool(2_000, 60, 32);
    let (full, pool) = make(
        inputs(demo_policy(), objects, inspectors, "tickets"),
        Protocol::V2,
    );
    let public = PublicBundle::from_full(&full, &pool);
    let seed = full.result.seed;
    for d in &public.drawn {
        let leaf = committed::object_leaf(&d.private_digest, |e| d.object.encode_to(e), None);
        assert_eq!(
            d.ticket,
            draw::ticket(Protocol::V2, &seed, &d.object.id, &leaf)
        );
        assert_ne!(
            d.ticket,
            draw::ticket(Protocol::V1, &seed, &d.object.id, &leaf)
        );
    }
    // In some stratum with several drawn objects, leaf order and id order disagree.
    let disagree = (0..public.commitment.strata.len()).any(|s| {
        let mut by_leaf: Vec<_> = public
            .drawn
            .iter()
            .filter(|d| d.stratum as usize == s)
            .map(|d| (d.leaf_index, &d.object.id))
            .collect();
        by_leaf.sort();
        by_leaf.windows(2).any(|w| w[0].1 > w[1].1)
    });
    assert!(disagree, "v2 leaves must not be ranked by id");
    // Every stratum's leaves are sorted by hash.
    for s in &pool.strata {
        assert!(s.leaves.is_sorted());
    }
}

/// The v2 public bundle names no certificate number and no conflict with an object that was not
/// drawn; the inspectors tree still verifies from what it publishes.
#[test]
fn v2_public_inspectors_keep_certificates_and_other_conflicts_private() {
    let (objects, mut inspectors) = pool(300, 30, 33);
    // Each inspector declares conflicts with a few objects (every object with one inspector at
    // most, so that matching still succeeds).
    let n = inspectors.len();
    for (k, i) in inspectors.iter_mut().enumerate() {
        i.conflicts = objects
            .iter()
            .skip(k)
            .step_by(n)
            .map(|o| o.id.clone())
            .collect();
    }
    let conflicted: Vec<ObjectId> = objects.iter().map(|o| o.id.clone()).collect();
    for protocol in Protocol::ALL {
        let (full, pool) = make(
            inputs(
                demo_policy(),
                objects.clone(),
                inspectors.clone(),
                "inspectors",
            ),
            protocol,
        );
        let public = PublicBundle::from_full(&full, &pool);
        assert!(verify_public(&public).valid, "{protocol}");
        let text = serde_json::to_string(&public.inspectors).unwrap();
        let drawn: BTreeSet<&ObjectId> = public.drawn.iter().map(|d| &d.object.id).collect();
        let named_not_drawn = conflicted
            .iter()
            .filter(|o| !drawn.contains(o) && text.contains(o.as_str()))
            .count();
        let certificates = inspectors
            .iter()
            .filter(|i| text.contains(&i.certificate_no))
            .count();
        match protocol {
            Protocol::V1 => {
                assert!(named_not_drawn > 0 && certificates == inspectors.len());
            }
            Protocol::V2 => {
                assert_eq!((named_not_drawn, certificates), (0, 0));
                let PublishedInspectors::V2(list) = &public.inspectors else {
                    panic!("v2 publishes public parts")
                };
                assert!(
                    list.iter()
                        .all(|i| i.conflicts.iter().all(|o| drawn.contains(o)))
                );
            }
        }
    }
}

/// A v2 public bundle whose published conflicts were altered no longer matches the committed
/// inspectors root.
#[test]
fn a_v2_public_inspector_cannot_be_altered() {
    let (objects, inspectors) = pool(300, 30, 34);
    let (full, pool) = make(
        inputs(demo_policy(), objects, inspectors, "alter"),
        Protocol::V2,
    );
    let mut public = PublicBundle::from_full(&full, &pool);
    let PublishedInspectors::V2(list) = &mut public.inspectors else {
        panic!()
    };
    list[0].certificate_valid = !list[0].certificate_valid;
    let r = verify_public(&public);
    assert!(!r.valid);
    let m = r.mismatch.unwrap();
    assert!(m.field.starts_with("inspectors"), "{m:?}");
}

fn recuse(object: &ObjectId, inspector: &str, code: Option<RecusalReason>) -> ReplacementRequest {
    ReplacementRequest::Inspector {
        object: object.clone(),
        inspector: InspectorId::parse(inspector).unwrap(),
        reason_code: code,
        reason: "回避".into(),
    }
}

fn replace(object: &ObjectId, code: Option<ObjectReason>) -> ReplacementRequest {
    ReplacementRequest::Object {
        object: object.clone(),
        reason_code: code,
        reason: "已注销".into(),
    }
}

fn team(b: &FullBundle, object: &ObjectId) -> Vec<String> {
    b.result
        .final_assignments
        .iter()
        .find(|a| &a.object == object)
        .unwrap()
        .inspectors
        .iter()
        .map(|i| i.to_string())
        .collect()
}

/// Issue 11 item 2: 17 recusals in a row on one slot were accepted (v1), so a team could be
/// walked until a preferred inspector came up. v2 allows `recusals_per_slot` (2) per slot.
#[test]
fn a_third_recusal_on_one_slot_is_refused_in_v2() {
    let (objects, inspectors) = pool(300, 40, 35);
    for protocol in Protocol::ALL {
        let code = (protocol == Protocol::V2).then_some(RecusalReason::DeclaredConflict);
        let (mut b, _) = make(
            inputs(demo_policy(), objects.clone(), inspectors.clone(), "walk"),
            protocol,
        );
        let object = b.result.final_assignments[0].object.clone();
        let mut refused = None;
        for n in 0..3 {
            let current = team(&b, &object)[0].clone();
            match b.with_replacements(&[recuse(&object, &current, code)]) {
                Ok((next, _)) => b = next,
                Err(e) => {
                    refused = Some((n, e.to_string()));
                    break;
                }
            }
        }
        match protocol {
            Protocol::V1 => assert_eq!(refused, None, "v1 accepts any number"),
            Protocol::V2 => {
                let (n, e) = refused.expect("the third recusal is refused");
                assert_eq!(n, 2, "{e}");
                assert!(
                    e.contains("over the cap on recusals") && e.contains("slot 0"),
                    "{e}"
                );
            }
        }
    }
}

/// Issue 11 item 2: any drawn enterprise could be replaced (v1, any number). v2 allows
/// max(1, 5% of the sample) object replacements per run, and a reason code.
#[test]
fn an_object_replacement_over_the_cap_is_refused_in_v2() {
    let (objects, inspectors) = pool(300, 40, 36);
    for protocol in Protocol::ALL {
        let code = (protocol == Protocol::V2).then_some(ObjectReason::MovedOut);
        let (b, _) = make(
            inputs(demo_policy(), objects.clone(), inspectors.clone(), "veto"),
            protocol,
        );
        let sample: u64 = b.result.strata.iter().map(|s| s.sample).sum();
        let cap = b.policy.caps().object_cap(sample) as usize;
        // Objects of strata that still have members left, so that only the cap can refuse.
        let replaceable: Vec<ObjectId> = b
            .result
            .strata
            .iter()
            .filter(|s| s.population > s.sample + cap as u64)
            .flat_map(|s| s.selected.iter().cloned())
            .take(cap + 1)
            .collect();
        assert_eq!(replaceable.len(), cap + 1);
        let requests: Vec<_> = replaceable.iter().map(|o| replace(o, code)).collect();
        let at_cap = b.with_replacements(&requests[..cap]);
        assert!(at_cap.is_ok(), "{protocol}: {:?}", at_cap.err());
        let over = b.with_replacements(&requests);
        match protocol {
            Protocol::V1 => assert!(over.is_ok()),
            Protocol::V2 => {
                let e = over.unwrap_err().to_string();
                assert!(
                    e.contains("over the cap on object replacements")
                        && e.contains(&format!("allows {cap}")),
                    "{e}"
                );
            }
        }
        // A v2 request without a reason code is refused, and names the codes.
        if protocol == Protocol::V2 {
            let e = b
                .with_replacements(&[replace(&replaceable[0], None)])
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("reason code is required") && e.contains("moved_out"),
                "{e}"
            );
        }
    }
}

/// A bundle over its caps (as an authority would have to forge it: the draw refuses to make
/// one) fails verification, full and public, with the counts.
#[test]
fn verify_fails_a_bundle_over_its_caps() {
    let (objects, inspectors) = pool(300, 40, 37);
    let (b, _) = make(
        inputs(demo_policy(), objects, inspectors, "forged"),
        Protocol::V2,
    );
    let object = b.result.final_assignments[0].object.clone();
    let mut at_cap = b.clone();
    for _ in 0..2 {
        let current = team(&at_cap, &object)[0].clone();
        let code = Some(RecusalReason::Kinship);
        at_cap = at_cap
            .with_replacements(&[recuse(&object, &current, code)])
            .unwrap()
            .0;
    }
    assert!(verify_full(&at_cap).valid);
    // A third recusal on the same slot, appended as if it had been accepted.
    let mut forged = at_cap.clone();
    let mut record = forged.result.replacements[1].clone();
    let current = team(&at_cap, &object)[0].clone();
    record.request = recuse(&object, &current, Some(RecusalReason::Kinship));
    forged.result.replacements.push(record);
    forged.result_digest = forged.result.digest(Protocol::V2, &forged.commitment_hash);
    let r = verify_full(&forged);
    let m = r.mismatch.expect("over the cap");
    assert!(
        m.found.contains("over the cap on recusals") && m.found.contains("already had 2"),
        "{m:?}"
    );
    let pool = CommittedPool::build(
        &forged.snapshot,
        &forged.policy,
        &forged.salt_key.0,
        Protocol::V2,
    )
    .unwrap();
    let public = PublicBundle::from_full(&forged, &pool);
    let m = verify_public(&public).mismatch.expect("over the cap");
    assert!(m.found.contains("over the cap on recusals"), "{m:?}");

    // Object replacements: one over the cap, counted without any replay.
    let sample: u64 = b.result.strata.iter().map(|s| s.sample).sum();
    let cap = b.policy.caps().object_cap(sample) as usize;
    let stratum = b
        .result
        .strata
        .iter()
        .find(|s| s.population > s.sample + cap as u64 + 1 && s.sample > cap as u64)
        .unwrap();
    let requests: Vec<_> = stratum.selected[..cap]
        .iter()
        .map(|o| replace(o, Some(ObjectReason::Revoked)))
        .collect();
    let (at_cap, pool) = b.with_replacements(&requests).unwrap();
    let mut public = PublicBundle::from_full(&at_cap, &pool);
    assert!(verify_public(&public).valid);
    let mut record = public.result.replacements[0].clone();
    record.request = replace(&stratum.selected[cap], Some(ObjectReason::Revoked));
    public.result.replacements.push(record);
    public.result_digest = public.result.digest(Protocol::V2, &public.commitment_hash);
    let m = verify_public(&public).mismatch.expect("over the cap");
    assert_eq!(m.field, "result.replacements");
    assert_eq!(m.found, format!("{} object replacements", cap + 1));
}

/// Issue 11 item 2: a recusal draws from a stream fixed by (object, slot, recusal number), so
/// the order in which two recusals arrive chooses nothing. In v1 the stream followed the
/// request's position, and swapping two requests changed who came in.
#[test]
fn the_order_of_recusals_on_different_objects_chooses_nothing_in_v2() {
    let (objects, inspectors) = pool(600, 120, 38);
    // Inspectors from the object's own region: two objects of different regions share no
    // candidate, so only the streams could make the order matter.
    let p = policy(
        &double_random::cli::demo::policy_toml(draw_date())
            .replace("region_rule = \"any\"", "region_rule = \"same\""),
    );
    assert_eq!(
        p.inspectors.region_rule,
        double_random::core::policy::RegionRule::Same
    );
    let mut v1_differs = 0;
    let mut pairs = 0;
    for protocol in Protocol::ALL {
        let code = (protocol == Protocol::V2).then_some(RecusalReason::PriorInvolvement);
        let (b, _) = make(
            inputs(p.clone(), objects.clone(), inspectors.clone(), "order"),
            protocol,
        );
        let region = |id: &ObjectId| {
            b.snapshot.objects()[b.snapshot.object_index(id).unwrap()]
                .region
                .to_string()
        };
        let teams = &b.result.final_assignments;
        let mut tried = 0;
        for (x, y) in teams.iter().zip(teams.iter().skip(1)) {
            if region(&x.object) == region(&y.object) || tried == 8 {
                continue;
            }
            tried += 1;
            let rx = recuse(&x.object, x.inspectors[0].as_str(), code);
            let ry = recuse(&y.object, y.inspectors[0].as_str(), code);
            let (xy, _) = b.with_replacements(&[rx.clone(), ry.clone()]).unwrap();
            let (yx, _) = b.with_replacements(&[ry, rx]).unwrap();
            let same = team(&xy, &x.object) == team(&yx, &x.object)
                && team(&xy, &y.object) == team(&yx, &y.object);
            match protocol {
                Protocol::V1 => v1_differs += usize::from(!same),
                Protocol::V2 => {
                    pairs += 1;
                    assert!(same, "{} / {}: the order chose", x.object, y.object);
                }
            }
        }
    }
    assert!(pairs >= 4);
    assert!(
        v1_differs > 0,
        "v1: the order of requests chose the inspector"
    );
}

/// The caps are part of the v2 policy hash (so of the commitment), not of v1's.
#[test]
fn replacement_caps_are_in_the_v2_policy_hash_only() {
    let base = demo_policy();
    let toml = double_random::cli::demo::policy_toml(draw_date())
        + "\n[replacements]\nobject_cap_bp = 100\nrecusals_per_slot = 1\n";
    let capped = policy(&toml);
    assert_eq!(capped.caps().recusals_per_slot, 1);
    assert_eq!(base.hash(Protocol::V1), capped.hash(Protocol::V1));
    assert_ne!(base.hash(Protocol::V2), capped.hash(Protocol::V2));
    // Written defaults hash like absent ones.
    let defaults = policy(
        &(double_random::cli::demo::policy_toml(draw_date())
            + "\n[replacements]\nobject_cap_bp = 500\nrecusals_per_slot = 2\n"),
    );
    assert_eq!(base.hash(Protocol::V2), defaults.hash(Protocol::V2));
    let over = Policy::from_toml(
        &(double_random::cli::demo::policy_toml(draw_date())
            + "\n[replacements]\nobject_cap_bp = 10001\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(over.contains("replacements.object_cap_bp"), "{over}");
}

/// The v1 vectors, frozen before v2, still verify, and as v1.
#[test]
fn v1_vectors_still_verify_as_v1() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/v1");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let full: FullBundle = serde_json::from_value(v["full_bundle"].clone()).unwrap();
        let public: PublicBundle = serde_json::from_value(v["public_bundle"].clone()).unwrap();
        assert_eq!(full.commitment.protocol, Protocol::V1);
        for r in [verify_full(&full), verify_public(&public)] {
            assert!(r.valid, "{}: {:?}", path.display(), r.mismatch);
            assert_eq!(r.result_digest.as_deref(), v["result_digest"].as_str());
        }
        n += 1;
    }
    assert!(n >= 6);
}
