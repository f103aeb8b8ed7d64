//! Inclusion probabilities over many seeds match what the policy promises (chi-square, fixed
//! seeds so the test itself is deterministic). f64 is fine here: this is the test, not the draw.

use std::collections::BTreeMap;

use double_random::core::Protocol;
use double_random::core::draw;
use double_random::core::encode::sha256;
use double_random::core::model::Snapshot;
use double_random::core::policy::Policy;
use double_random::core::pool::CommittedPool;

use crate::support::*;

const DRAWS: usize = 4000;

/// Counts how often each object index is drawn over `DRAWS` seeds.
fn inclusion_counts(snapshot: &Snapshot, policy: &Policy) -> (CommittedPool, Vec<u64>) {
    let pool = CommittedPool::build(snapshot, policy, &[7; 32], Protocol::CURRENT).unwrap();
    let mut counts = vec![0u64; snapshot.objects().len()];
    for k in 0..DRAWS {
        let seed = sha256(format!("statistics seed {k}").as_bytes());
        let (_, order) = draw::select(snapshot, policy, &pool, &seed);
        for (_, i) in order {
            counts[i as usize] += 1;
        }
    }
    (pool, counts)
}

/// Chi-square over objects of (observed − expected)² / (n·p·(1−p)); compared with a bound far
/// in the tail (mean df, sd √(2df): 5 sd above the mean), so a fair draw fails with p < 1e-6.
fn assert_chi_square(counts: &[u64], promised: &[f64]) {
    let mut chi = 0.0;
    let mut df = 0usize;
    for (&o, &p) in counts.iter().zip(promised) {
        if p == 0.0 || p == 1.0 {
            assert_eq!(
                o as f64,
                p * DRAWS as f64,
                "a certain outcome must always happen"
            );
            continue;
        }
        let e = p * DRAWS as f64;
        chi += (o as f64 - e).powi(2) / (e * (1.0 - p));
        df += 1;
    }
    let bound = df as f64 + 5.0 * (2.0 * df as f64).sqrt();
    assert!(df > 0);
    assert!(
        chi < bound,
        "chi-square {chi:.1} over {df} objects exceeds {bound:.1}"
    );
    // And not suspiciously perfect either (would hint at a non-random draw).
    assert!(
        chi > (df as f64 - 5.0 * (2.0 * df as f64).sqrt()).max(0.0),
        "chi-square {chi:.1} too small for {df}"
    );
}

#[test]
fn ratio_mode_gives_every_eligible_object_exactly_n_over_n() {
    let (objects, inspectors) = pool(60, 10, 21);
    let snapshot = Snapshot::new(objects, inspectors).unwrap();
    let policy = demo_policy();
    let (pool, counts) = inclusion_counts(&snapshot, &policy);
    let sizes = draw::sample_sizes(
        Protocol::CURRENT,
        &policy,
        &pool
            .strata
            .iter()
            .map(|s| (s.tier, s.cooled, s.members.len() as u64))
            .collect::<Vec<_>>(),
        &[0; 32],
    );
    let mut promised = vec![0.0; counts.len()];
    for (s, n) in pool.strata.iter().zip(&sizes) {
        for &m in &s.members {
            promised[m as usize] = *n as f64 / s.members.len() as f64;
        }
    }
    // Excluded objects are never drawn; every eligible one is reachable.
    assert_chi_square(&counts, &promised);
    assert!(
        pool.strata
            .iter()
            .flat_map(|s| &s.members)
            .all(|&m| counts[m as usize] > 0),
        "an eligible object was never drawn"
    );
}

/// Exact inclusion probability per stratum under successive sampling at stratum level:
/// dynamic programming over how many have been drawn from each stratum.
fn weighted_inclusion(weights: &[f64], populations: &[u64], total: u64) -> Vec<f64> {
    let mut states: BTreeMap<Vec<u64>, f64> = BTreeMap::from([(vec![0; weights.len()], 1.0)]);
    for _ in 0..total {
        let mut next = BTreeMap::new();
        for (taken, p) in &states {
            let mass: f64 = (0..weights.len())
                .map(|i| weights[i] * (populations[i] - taken[i]) as f64)
                .sum();
            for i in 0..weights.len() {
                let m = weights[i] * (populations[i] - taken[i]) as f64;
                if m > 0.0 {
                    let mut t = taken.clone();
                    t[i] += 1;
                    *next.entry(t).or_insert(0.0) += p * m / mass;
                }
            }
        }
        states = next;
    }
    (0..weights.len())
        .map(|i| {
            states.iter().map(|(t, p)| p * t[i] as f64).sum::<f64>() / populations[i].max(1) as f64
        })
        .collect()
}

#[test]
fn weighted_mode_matches_successive_sampling() {
    let (objects, inspectors) = pool(40, 10, 22);
    let snapshot = Snapshot::new(objects, inspectors).unwrap();
    let policy = policy(
        r#"draw_date = "2026-12-01"
mode = "weighted"
total = 8
[[tiers]]
name = "good"
weight = 1
[[tiers]]
name = "notice"
weight = 3
[[tiers]]
name = "watch"
weight = 5
[[tiers]]
name = "warning"
weight = 8
[[tiers]]
name = "focus"
weight = 20
[cooldown]
days = 365
action = "downweight"
percent = 50
[inspectors]
departments = ["市场监管局"]
"#,
    );
    let (pool, counts) = inclusion_counts(&snapshot, &policy);
    let weights: Vec<f64> = pool
        .strata
        .iter()
        .map(|s| policy.tiers[s.tier].weight as f64 * if s.cooled { 0.5 } else { 1.0 })
        .collect();
    let populations: Vec<u64> = pool.strata.iter().map(|s| s.members.len() as u64).collect();
    let per_stratum = weighted_inclusion(&weights, &populations, policy.total);
    let mut promised = vec![0.0; counts.len()];
    for (s, p) in pool.strata.iter().zip(&per_stratum) {
        for &m in &s.members {
            promised[m as usize] = *p;
        }
    }
    assert_chi_square(&counts, &promised);
}

#[test]
fn a_single_object_gets_every_pair_of_inspectors_equally_often() {
    use double_random::core::draw::assign_teams;
    let (objects, inspectors) = pool(1, 6, 23);
    let mut inspectors = inspectors;
    for i in &mut inspectors {
        i.departments = vec!["市场监管局".into()];
        i.certificate_expiry = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        i.conflicts.clear();
    }
    let mut objects = objects;
    objects[0].last_inspectors = Box::default();
    let snapshot = Snapshot::new(objects, inspectors).unwrap();
    let policy = demo_policy();
    let mut pairs: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    for k in 0..DRAWS {
        let seed = sha256(format!("pair seed {k}").as_bytes());
        let teams = assign_teams(
            Protocol::CURRENT,
            &snapshot,
            &policy,
            &seed,
            &[0],
            &[],
            &mut |_, _| unreachable!(),
        )
        .unwrap();
        let ids = &teams.assignments[0].inspectors;
        let a = snapshot.inspector_index(&ids[0]).unwrap() as u32;
        let b = snapshot.inspector_index(&ids[1]).unwrap() as u32;
        *pairs.entry((a.min(b), a.max(b))).or_default() += 1;
    }
    assert_eq!(pairs.len(), 15, "all 15 pairs of 6 inspectors occur");
    let counts: Vec<u64> = pairs.values().copied().collect();
    assert_chi_square(&counts, &[1.0 / 15.0; 15]);
}
