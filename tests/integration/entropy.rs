//! Issue 11 items 1 and 7: the attacks on the entropy and on what every verifier checks, each
//! run against a bundle the authority recommitted consistently (commitment hash, seed, draw,
//! digest all recomputed), so only the rule under test can catch it.

use double_random::core::Protocol;
use double_random::core::bundle::{
    DrawInputs, FullBundle, HexBytes, PublicBundle, Report, verify_full, verify_public,
};
use double_random::core::draw;
use double_random::core::entropy::{Announced, EntropySource};
use double_random::core::pool::CommittedPool;

use crate::support::*;

fn base(label: &str) -> DrawInputs {
    let (objects, inspectors) = pool(60, 14, 11);
    inputs(demo_policy(), objects, inspectors, label)
}

/// What an authority that controls the bundle does after changing it: recompute the
/// commitment hash, seed, draw and digest so that every recomputation agrees.
fn recommit(b: &mut FullBundle) -> CommittedPool {
    b.commitment.task_id = b.task_id.clone();
    b.commitment_hash = b.commitment.hash();
    let entropy: Vec<Vec<u8>> = b.entropy.iter().map(|e| e.0.clone()).collect();
    let seed = draw::derive_seed(&b.commitment, &b.secret, &entropy);
    let pool =
        CommittedPool::build(&b.snapshot, &b.policy, &b.salt_key.0, b.commitment.protocol).unwrap();
    b.result = draw::run(&b.snapshot, &b.policy, &pool, &seed, &[]).unwrap();
    b.result_digest = b.result.digest(b.commitment.protocol, &b.commitment_hash);
    pool
}

/// Both verifications of the tampered bundle fail at `field`.
fn refused(b: &FullBundle, pool: &CommittedPool, field: &str) -> Vec<Report> {
    let public = PublicBundle::from_full(b, pool);
    let reports = vec![verify_full(b), verify_public(&public)];
    for r in &reports {
        let m = r
            .mismatch
            .as_ref()
            .unwrap_or_else(|| panic!("{} accepted: {:?}", r.kind, r.checks));
        assert_eq!(m.field, field, "{}: {m:?}", r.kind);
    }
    reports
}

#[test]
fn the_untampered_bundle_verifies_so_each_refusal_below_is_the_rule() {
    let (mut b, _) = draw(base("honest"));
    let pool = recommit(&mut b);
    let public = PublicBundle::from_full(&b, &pool);
    assert!(verify_full(&b).valid);
    assert!(verify_public(&public).valid);
}

#[test]
fn an_appended_entropy_value_is_refused() {
    // The v1 attack: one value more than announced, chosen after the fact, re-rolls the draw.
    let (mut b, _) = draw(base("append"));
    b.entropy.push(HexBytes(b"4 5 6".to_vec()));
    let pool = recommit(&mut b);
    let r = refused(&b, &pool, "entropy");
    assert!(
        r[0].mismatch
            .as_ref()
            .unwrap()
            .found
            .contains("exactly one value per source"),
        "{:?}",
        r[0].mismatch
    );
    // Nor can the draw be made that way.
    let mut d = base("append");
    d.entropy.push(b"4 5 6".to_vec());
    assert!(FullBundle::create(d).is_err());
}

#[test]
fn an_empty_entropy_value_is_refused() {
    let (mut b, _) = draw(base("empty"));
    b.entropy[0] = HexBytes(Vec::new());
    let pool = recommit(&mut b);
    refused(&b, &pool, "entropy");
}

#[test]
fn a_value_not_in_its_announced_form_is_refused() {
    let (mut b, _) = draw(base("form"));
    // The same numbers with a leading zero: another seed, so another draw to choose from.
    let text = String::from_utf8(b.entropy[0].0.clone()).unwrap();
    b.entropy[0] = HexBytes(format!("0{text}").into_bytes());
    let pool = recommit(&mut b);
    refused(&b, &pool, "entropy");
}

#[test]
fn a_v2_commitment_under_64_bits_needs_allow_weak_entropy() {
    let (mut b, _) = draw(base("weak"));
    assert!(b.commitment.allow_weak_entropy);
    assert!(verify_full(&b).warnings[0].contains("0 bits"));
    b.commitment.allow_weak_entropy = false;
    let pool = recommit(&mut b);
    let r = refused(&b, &pool, "commitment.entropy_sources");
    assert!(
        r[0].mismatch
            .as_ref()
            .unwrap()
            .found
            .contains("under the 64 required"),
        "{:?}",
        r[0].mismatch
    );
    let mut d = base("weak");
    d.announced.allow_weak = false;
    let e = FullBundle::create(d).unwrap_err().to_string();
    assert!(e.contains("0 bits of min-entropy"), "{e}");
}

#[test]
fn a_v2_commitment_without_sources_is_refused() {
    let (mut b, _) = draw(base("none"));
    b.commitment.entropy_sources.clear();
    b.entropy.clear();
    let pool = recommit(&mut b);
    refused(&b, &pool, "commitment.entropy_sources");
}

#[test]
fn an_invalid_task_id_is_refused_by_every_verifier() {
    for bad in ["", "a\nb", " leading", &"x".repeat(129)] {
        let (mut b, _) = draw(base("task"));
        b.task_id = bad.to_owned();
        let pool = recommit(&mut b);
        refused(&b, &pool, "task_id");
    }
}

#[test]
fn look_alike_drand_lines_are_refused() {
    let drand = "drand: chain 52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971 \
                 round 123 at 2023-08-23T15:15:33Z";
    for text in [
        format!(" {drand}"),
        drand.replacen("drand:", "Drand:", 1),
        drand.replacen("drand:", "drand：", 1),
    ] {
        // v1: the look-alike line announced no round, so its value was free; now it is refused.
        let mut d = base("lookalike");
        d.protocol = Protocol::V1;
        d.announced = Announced {
            text: text.clone(),
            sources: Vec::new(),
            allow_weak: false,
        };
        d.entropy = vec![vec![7; 32]];
        assert!(FullBundle::create(d).is_err(), "{text:?}");
        let (mut b, _) = draw(base("lookalike-v1"));
        b.commitment.protocol = Protocol::V1;
        b.commitment.entropy_sources.clear();
        b.commitment.allow_weak_entropy = false;
        b.commitment.entropy_source = text.clone();
        b.format = "double-random/full-bundle/v1".into();
        let pool = recommit(&mut b);
        let mut public = PublicBundle::from_full(&b, &pool);
        public.format = "double-random/public-bundle/v1".into();
        for r in [verify_full(&b), verify_public(&public)] {
            assert_eq!(
                r.mismatch.as_ref().map(|m| m.field.as_str()),
                Some("beacons"),
                "{text:?}: {:?}",
                r.mismatch
            );
        }
        // v2: the description may not claim a round the sources do not announce.
        let (mut b, _) = draw(base("lookalike-v2"));
        b.commitment.entropy_source = text.clone();
        let pool = recommit(&mut b);
        refused(&b, &pool, "commitment.entropy_sources");
    }
}

#[test]
fn v1_rules_stay_v1_rules() {
    // A v1 bundle drawn today (a replay keeps its protocol) verifies as v1, with a free-text
    // entropy value and no structured sources.
    let mut d = base("v1");
    d.protocol = Protocol::V1;
    d.announced = Announced {
        text: "witness: lottery".into(),
        sources: Vec::new(),
        allow_weak: false,
    };
    d.entropy = vec![b"9319./".to_vec()];
    let (b, pool) = draw(d);
    assert_eq!(b.format, "double-random/full-bundle/v1");
    let r = verify_full(&b);
    assert!(r.valid, "{:?}", r.mismatch);
    assert_eq!(r.protocol, Some(Protocol::V1));
    assert!(verify_public(&PublicBundle::from_full(&b, &pool)).valid);
    // Structured sources smuggled into a v1 commitment are not silently ignored.
    let mut b2 = b.clone();
    b2.commitment.entropy_sources = vec![EntropySource::Witness {
        event: "x".into(),
        witnesses: 1,
    }];
    let pool = recommit(&mut b2);
    let public = PublicBundle::from_full(&b2, &pool);
    for r in [verify_full(&b2), verify_public(&public)] {
        assert_eq!(r.mismatch.unwrap().field, "commitment.entropy_sources");
    }
}

#[test]
fn duplicate_beacon_records_are_refused() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/v2/drand-lottery-witness.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let full: FullBundle = serde_json::from_value(v["full_bundle"].clone()).unwrap();
    assert!(verify_full(&full).valid);
    let b = FullBundle {
        beacons: vec![full.beacons[0].clone(), full.beacons[0].clone()],
        ..full
    };
    let r = verify_full(&b);
    assert!(
        r.mismatch.as_ref().unwrap().found.contains("repeats"),
        "{:?}",
        r.mismatch
    );
}

/// Reading rules of draw-spec §16, in both versions: a byte-order mark, a repeated key (named
/// field or attribute), a lone surrogate and `beacons: null` make a bundle unreadable, for the
/// reference and for the independent Python verifier alike.
#[test]
fn reading_rules_refuse_bom_repeated_keys_lone_surrogates_and_null_beacons() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    for version in ["v1", "v2"] {
        let name = if version == "v1" {
            "drand-witness"
        } else {
            "drand-lottery-witness"
        };
        let text =
            std::fs::read_to_string(format!("{root}/tests/vectors/{version}/{name}.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let public = serde_json::to_string(&v["public_bundle"]).unwrap();
        let full = serde_json::to_string(&v["full_bundle"]).unwrap();
        let cases: Vec<(&str, String, bool)> = vec![
            ("a byte-order mark", format!("\u{feff}{public}"), true),
            (
                "a repeated task_id",
                public.replacen("{", "{\"task_id\":\"other\",", 1),
                true,
            ),
            (
                "a lone surrogate",
                public.replacen("\"name\":\"", "\"name\":\"\\ud800", 1),
                true,
            ),
            (
                "beacons: null",
                public.replacen("\"beacons\":[", "\"beacons\":null,\"x\":[", 1),
                true,
            ),
            (
                "a repeated attribute key",
                full.replacen(
                    "\"status\":\"active\"",
                    "\"status\":\"active\",\"attributes\":{\"k\":\"1\",\"k\":\"2\"}",
                    1,
                ),
                false,
            ),
        ];
        for (what, bad, is_public) in cases {
            assert!(
                bad != public && bad != full,
                "{version}: {what}: nothing tampered"
            );
            let rust = if is_public {
                serde_json::from_str::<PublicBundle>(&bad).is_ok()
            } else {
                serde_json::from_str::<FullBundle>(&bad).is_ok()
            };
            assert!(!rust, "{version}: {what} was read by the reference");
            let path = dir.path().join("bad.json");
            std::fs::write(&path, &bad).unwrap();
            let script = if !is_public {
                "check_full.py"
            } else {
                "verify_public.py"
            };
            let out = std::process::Command::new("python3")
                .arg(format!("{root}/tests/independent/{script}"))
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                !out.status.success(),
                "{version}: {what} was read by {script}"
            );
        }
    }
}

/// A proof's `replaced_reason` is checked against the public bundle (a forged one verified
/// before), and the proof's optional fields are absent or present, never `null`.
#[test]
fn a_forged_replaced_reason_and_null_proof_fields_are_refused() {
    use double_random::core::bundle::{prove, verify_proof};
    use double_random::core::draw::ReplacementRequest;
    let (base_bundle, _) = draw(base("reason"));
    let first = base_bundle.result.final_assignments[0].object.clone();
    let (b, pool) = base_bundle
        .with_replacements(&[ReplacementRequest::Object {
            object: first.clone(),
            reason_code: Some(double_random::core::replacement::ObjectReason::ClosedOrLiquidating),
            reason: "已关闭停业".into(),
        }])
        .unwrap();
    let public = PublicBundle::from_full(&b, &pool);
    let proof = prove(&b, &pool, &first);
    assert_eq!(proof.replaced_reason.as_deref(), Some("已关闭停业"));
    let r = verify_proof(&proof, Some(&public));
    assert!(r.valid, "{:?}", r.mismatch);
    let mut forged = proof.clone();
    forged.replaced_reason = Some("迁出".into());
    let r = verify_proof(&forged, Some(&public));
    assert_eq!(
        r.mismatch.map(|m| m.field).as_deref(),
        Some("replaced_reason")
    );
    let mut dropped = proof.clone();
    dropped.replaced_reason = None;
    assert!(!verify_proof(&dropped, Some(&public)).valid);
    let json = serde_json::to_value(&proof).unwrap();
    for field in ["ticket", "stratum", "membership", "replaced_reason"] {
        let mut v = json.clone();
        v[field] = serde_json::Value::Null;
        assert!(
            serde_json::from_value::<double_random::core::bundle::EnterpriseProof>(v).is_err(),
            "{field}: null read as absent"
        );
    }
}
