//! Frozen test vectors: tests/vectors/v2/*.json are this protocol's cases (inputs, and the
//! full and public bundles they must produce byte for byte); tests/vectors/v1/*.json are the
//! frozen v1 bundles, which must keep verifying as v1. Regenerate v2 only with a protocol
//! change: `DOUBLE_RANDOM_WRITE_VECTORS=1 cargo test --test integration vectors`.

use std::path::PathBuf;

use double_random::core::Protocol;
use double_random::core::beacon::{Announcement, Beacon, BeaconRecord, Chain};
use double_random::core::bundle::{FullBundle, HexBytes, PublicBundle, verify_full, verify_public};
use double_random::core::draw::ReplacementRequest;
use double_random::core::entropy::{Announced, EntropySource, LotteryGroup, UtcSecond};
use double_random::core::inspector_leaf::PublishedInspectors;
use double_random::core::model::{InspectorId, ObjectId};
use double_random::core::replacement::{ObjectReason, RecusalReason};
use serde_json::{Value, json};

use crate::support::*;

struct Case {
    name: &'static str,
    description: &'static str,
    bundle: FullBundle,
    public: PublicBundle,
}

const HEAD: &str = "draw_date = \"2026-12-01\"\n";
const INSPECTORS: &str = "[inspectors]\ndepartments = [\"市场监管局\"]\n";

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut add =
        |name: &'static str, description: &'static str, (bundle, pool): (FullBundle, _)| {
            let public = PublicBundle::from_full(&bundle, &pool);
            out.push(Case {
                name,
                description,
                bundle,
                public,
            });
        };

    let (objects, inspectors) = pool(60, 14, 11);
    add(
        "ratio-cooldown",
        "ratio mode, penalty tiers, scope by kind, cooldown down-weighted to 50% (the demo policy)",
        draw(inputs(
            demo_policy(),
            objects.clone(),
            inspectors.clone(),
            "ratio",
        )),
    );

    let abcd: Vec<_> = objects
        .iter()
        .cloned()
        .map(|mut o| {
            o.tier = match o.tier.as_str() {
                "good" => "A",
                "notice" => "B",
                "watch" | "warning" => "C",
                _ => "D",
            }
            .into();
            o
        })
        .collect();
    let p = policy(&format!(
        "{HEAD}mode = \"count\"\ntier_scheme = \"abcd\"\n{}\n{INSPECTORS}",
        r#"[[tiers]]
name = "A"
count = 3
[[tiers]]
name = "B"
count = 2
[[tiers]]
name = "C"
count = 2
[[tiers]]
name = "D"
count = 5
[scope]
regions = ["鄂城区", "华容区", "梁子湖区"]
[cooldown]
days = 180
action = "exclude""#
    ));
    add(
        "count-abcd",
        "count mode, A-D scheme, scope by region, cooldown excludes",
        draw(inputs(p, abcd, inspectors.clone(), "count")),
    );

    let p = policy(&format!(
        "{HEAD}mode = \"weighted\"\ntotal = 9\n{}\n{INSPECTORS}",
        r#"[[tiers]]
name = "good"
weight = 1
[[tiers]]
name = "notice"
weight = 2
[[tiers]]
name = "watch"
weight = 3
[[tiers]]
name = "warning"
weight = 5
[[tiers]]
name = "focus"
weight = 10
[cooldown]
days = 365
action = "downweight"
percent = 25"#
    ));
    add(
        "weighted",
        "weighted mode: 9 objects, tier weights 1/2/3/5/10, cooled objects at 25%",
        draw(inputs(p, objects.clone(), inspectors.clone(), "weighted")),
    );

    let (jobjects, jinspectors) = pool(40, 80, 12);
    let p = policy(
        r#"
draw_date = "2026-12-01"
mode = "ratio"
[[tiers]]
name = "good"
ratio = "10%"
[[tiers]]
name = "notice"
ratio = "20%"
[[tiers]]
name = "watch"
ratio = "50%"
[[tiers]]
name = "warning"
ratio = "50%"
[[tiers]]
name = "focus"
ratio = "100%"
[inspectors]
per_object = 3
departments = ["市场监管局", "卫生健康委"]
region_rule = "cross"
max_load = 3
"#,
    );
    add(
        "joint-matching",
        "joint task (two departments, 3 per object), cross-region rule, load cap 3",
        draw(inputs(p, jobjects, jinspectors, "joint")),
    );

    // A lottery, witness values and quicknet's round 123 (draw-spec §7.6, §20): 280 bits.
    let (chain, beacon) = quicknet_round_123();
    let mut d = inputs(demo_policy(), objects.clone(), inspectors.clone(), "drand");
    let drand = EntropySource::Drand {
        chain: chain.hash(),
        round: 123,
        at: UtcSecond(chain.round_time(123)),
    };
    d.announced = Announced {
        text: format!(
            "双色球 issue 2026138 of 2026-12-01\nwitness: 公开摇号 (whole numbers entered by 2 officer(s))\n{}",
            Announcement::for_round(&chain, 123).line()
        ),
        sources: vec![
            EntropySource::Lottery {
                name: "双色球".into(),
                issue: "2026138".into(),
                draw_date: draw_date(),
                groups: vec![
                    LotteryGroup {
                        count: 6,
                        min: 1,
                        max: 33,
                        ordered: false,
                        distinct: true,
                    },
                    LotteryGroup {
                        count: 1,
                        min: 1,
                        max: 16,
                        ordered: false,
                        distinct: true,
                    },
                ],
            },
            EntropySource::Witness {
                event: "公开摇号".into(),
                witnesses: 2,
            },
            drand,
        ],
        allow_weak: false,
    };
    d.entropy = vec![
        b"3 7 12 19 25 31 + 9".to_vec(),
        b"3 7 9".to_vec(),
        chain.verify(&beacon).unwrap().to_vec(),
    ];
    d.beacons = vec![BeaconRecord { chain, beacon }];
    add(
        "drand-lottery-witness",
        "the demo policy drawn with a lottery (24 bits), witness values (0) and drand quicknet \
         round 123 (256), in that order",
        draw(d),
    );

    // A 福彩3D draw alone: 9 bits, committed only because the task allowed weak entropy.
    let mut d = inputs(demo_policy(), objects.clone(), inspectors.clone(), "weak");
    d.announced = Announced {
        text: "福彩3D issue 2026333 of 2026-12-01".into(),
        sources: vec![EntropySource::Lottery {
            name: "福彩3D".into(),
            issue: "2026333".into(),
            draw_date: draw_date(),
            groups: vec![LotteryGroup {
                count: 3,
                min: 0,
                max: 9,
                ordered: true,
                distinct: false,
            }],
        }],
        allow_weak: true,
    };
    d.entropy = vec![b"7 0 7".to_vec()];
    add(
        "weak-lottery",
        "a 福彩3D draw alone (9 bits of min-entropy), allowed weak by the task",
        draw(d),
    );

    let (base, _) = draw(inputs(
        demo_policy(),
        objects.clone(),
        inspectors.clone(),
        "replace",
    ));
    let first = base.result.final_assignments[0].clone();
    let second = base.result.final_assignments[1].clone();
    let requests = vec![
        ReplacementRequest::Object {
            object: first.object.clone(),
            reason_code: Some(ObjectReason::ClosedOrLiquidating),
            reason: "已关闭停业".into(),
        },
        ReplacementRequest::Inspector {
            object: second.object.clone(),
            inspector: second.inspectors[0].clone(),
            reason_code: Some(RecusalReason::Kinship),
            reason: "回避: 亲属关系".into(),
        },
    ];
    add(
        "replacements",
        "ratio mode with an object replacement (closed) and an inspector recusal, in that order",
        base.with_replacements(&requests).unwrap(),
    );
    out
}

/// quicknet's info and its real round 123, from tests/vectors/drand-beacons.json.
fn quicknet_round_123() -> (Chain, Beacon) {
    let text = std::fs::read_to_string(dir().join("drand-beacons.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let c = &v["chains"]["quicknet"];
    let chain: Chain = serde_json::from_value(json!({
        "public_key": c["public_key"],
        "period": c["period"],
        "genesis_time": c["genesis_time"],
        "group_hash": c["groupHash"],
        "beacon_id": c["metadata"]["beaconID"],
        "scheme": c["schemeID"],
    }))
    .unwrap();
    let b = v["beacons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["chain"] == "quicknet" && b["round"] == 123)
        .unwrap();
    let beacon = Beacon {
        round: 123,
        signature: HexBytes(hex::decode(b["signature"].as_str().unwrap()).unwrap()),
        previous_signature: None,
    };
    (chain, beacon)
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// The frozen vectors of one protocol version.
fn version_dir(p: Protocol) -> PathBuf {
    dir().join(match p {
        Protocol::V1 => "v1",
        Protocol::V2 => "v2",
    })
}

/// Every scenario file of `p`'s folder, sorted by name.
fn scenario_files(p: Protocol) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(version_dir(p))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn vector_json(c: &Case) -> Value {
    json!({
        "name": c.name,
        "description": c.description,
        "protocol": Protocol::CURRENT.id(),
        "commitment_hash": hex::encode(c.bundle.commitment_hash),
        "seed": hex::encode(c.bundle.result.seed),
        "result_digest": hex::encode(c.bundle.result_digest),
        "full_bundle": serde_json::to_value(&c.bundle).unwrap(),
        "public_bundle": serde_json::to_value(&c.public).unwrap(),
    })
}

#[test]
fn frozen_vectors_reproduce_exactly() {
    let write = std::env::var_os("DOUBLE_RANDOM_WRITE_VECTORS").is_some();
    for c in cases() {
        let path = version_dir(Protocol::CURRENT).join(format!("{}.json", c.name));
        let now = vector_json(&c);
        if write {
            std::fs::write(&path, serde_json::to_string_pretty(&now).unwrap() + "\n").unwrap();
            continue;
        }
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let frozen: Value = serde_json::from_str(&text).unwrap();
        for key in [
            "commitment_hash",
            "seed",
            "result_digest",
            "full_bundle",
            "public_bundle",
        ] {
            assert!(
                frozen[key] == now[key],
                "{}: {key} differs from the frozen vector",
                c.name
            );
        }
    }
}

/// Every frozen bundle of every version verifies, as its own version: v1 files are never
/// regenerated, and must stay valid v1 whatever v2 changed.
#[test]
fn frozen_bundles_verify_as_their_version() {
    let mut seen = 0;
    for p in Protocol::ALL {
        for path in scenario_files(p) {
            let name = path.display();
            let text = std::fs::read_to_string(&path).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["protocol"], p.id(), "{name}");
            if !v["expect_invalid"].is_null() {
                continue; // checked by frozen_cap_vectors_reproduce_and_verify
            }
            let full: FullBundle = serde_json::from_value(v["full_bundle"].clone()).unwrap();
            let public: PublicBundle = serde_json::from_value(v["public_bundle"].clone()).unwrap();
            for r in [verify_full(&full), verify_public(&public)] {
                assert!(r.valid, "{name}: {:?}", r.mismatch);
                assert_eq!(r.protocol, Some(p), "{name}");
                assert!(
                    r.checks.contains(&format!("checked as {}", p.id())),
                    "{name}"
                );
                assert_eq!(r.result_digest.as_deref(), v["result_digest"].as_str());
                assert_eq!(r.entropy_bits.is_some(), p == Protocol::V2, "{name}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 12, "{seen} vector files");
}

/// The v2 vectors cover structured entropy: strong (no warning) and weak (allowed, warned).
#[test]
fn v2_vectors_report_their_entropy() {
    let read = |name: &str| -> FullBundle {
        let text = std::fs::read_to_string(version_dir(Protocol::V2).join(name)).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        serde_json::from_value(v["full_bundle"].clone()).unwrap()
    };
    let strong = verify_full(&read("drand-lottery-witness.json"));
    assert_eq!(strong.entropy_bits, Some(280));
    assert!(strong.warnings.is_empty(), "{:?}", strong.warnings);
    let weak = verify_full(&read("weak-lottery.json"));
    assert!(weak.valid);
    assert_eq!(weak.entropy_bits, Some(9));
    assert!(weak.warnings[0].contains("9 bits"), "{:?}", weak.warnings);
}

/// The public bundle names no object that was not drawn and carries no private field.
#[test]
fn public_bundles_keep_non_drawn_objects_private() {
    for c in cases() {
        let text = serde_json::to_string(&c.public).unwrap();
        assert!(
            !text.contains(&hex::encode(c.bundle.salt_key.0)),
            "{}: salt key leaked",
            c.name
        );
        for key in ["\"last_inspected\"", "\"attributes\"", "\"salt_key\""] {
            assert!(
                !text.contains(key),
                "{}: {key} in the public bundle",
                c.name
            );
        }
        let drawn: Vec<&ObjectId> = c.public.drawn.iter().map(|d| &d.object.id).collect();
        let conflicts: Vec<&ObjectId> = match &c.public.inspectors {
            PublishedInspectors::V1(l) => l.iter().flat_map(|i| &i.conflicts).collect(),
            PublishedInspectors::V2(l) => l.iter().flat_map(|i| &i.conflicts).collect(),
        };
        for o in c.bundle.snapshot.objects() {
            if drawn.contains(&&o.id) || conflicts.contains(&&o.id) {
                continue;
            }
            assert!(
                !text.contains(o.id.as_str()),
                "{}: non-drawn object {} is named",
                c.name,
                o.id
            );
            if !c.public.drawn.iter().any(|d| *d.object.name == *o.name) {
                assert!(
                    !text.contains(&*o.name),
                    "{}: non-drawn object name {} appears",
                    c.name,
                    o.name
                );
            }
        }
        for d in &c.public.drawn {
            let json = serde_json::to_value(d).unwrap();
            assert!(
                json.get("tier").is_none() && json["object"].get("tier").is_none(),
                "{}",
                c.name
            );
        }
    }
}

#[test]
fn replacements_never_change_earlier_picks() {
    let cases = cases();
    let c = cases.iter().find(|c| c.name == "replacements").unwrap();
    let (base, _) = draw(inputs(
        demo_policy(),
        c.bundle.snapshot.objects().to_vec(),
        c.bundle.snapshot.inspectors().to_vec(),
        "replace",
    ));
    assert_eq!(
        base.result
            .strata
            .iter()
            .map(|s| &s.selected)
            .collect::<Vec<_>>(),
        c.bundle
            .result
            .strata
            .iter()
            .map(|s| &s.selected)
            .collect::<Vec<_>>()
    );
    assert_eq!(base.result.assignments, c.bundle.result.assignments);
    assert_eq!(c.bundle.result.replacements.len(), 2);
    // The replaced object is gone from the final list; the recused inspector is off that team.
    let finals = &c.bundle.result.final_assignments;
    let ReplacementRequest::Object { object, .. } = &c.bundle.result.replacements[0].request else {
        panic!()
    };
    assert!(finals.iter().all(|a| &a.object != object));
    let ReplacementRequest::Inspector {
        object, inspector, ..
    } = &c.bundle.result.replacements[1].request
    else {
        panic!()
    };
    let team = &finals
        .iter()
        .find(|a| &a.object == object)
        .unwrap()
        .inspectors;
    assert!(!team.contains(inspector));
    assert!(team.iter().all(|i: &InspectorId| !i.as_str().is_empty()));
}

/// v2: coded replacements at the policy's caps (valid), and the same bundle forged one request
/// over each cap (what an authority would have to publish to exceed them), which every verifier
/// must reject on the named fields.
fn cap_cases() -> (Case, Vec<(Case, &'static str, &'static str)>) {
    use double_random::core::Protocol;
    use double_random::core::pool::CommittedPool;
    let (objects, inspectors) = pool(60, 14, 11);
    let p = policy(
        &(double_random::cli::demo::policy_toml(draw_date())
            + "\n[replacements]\nobject_cap_bp = 1000\nrecusals_per_slot = 1\n"),
    );
    let (base, _) = draw(inputs(p, objects, inspectors, "caps"));
    let sample: u64 = base.result.strata.iter().map(|s| s.sample).sum();
    assert_eq!(
        base.policy.caps().object_cap(sample),
        1,
        "the case needs a cap of 1"
    );
    let replaced = base
        .result
        .strata
        .iter()
        .find(|s| s.population > s.sample && s.sample >= 2)
        .expect("a stratum with a member left");
    let (gone, next) = (replaced.selected[0].clone(), replaced.selected[1].clone());
    let recused = base
        .result
        .final_assignments
        .iter()
        .find(|a| a.object != gone)
        .unwrap()
        .clone();
    let requests = vec![
        ReplacementRequest::Object {
            object: gone,
            reason_code: Some(ObjectReason::Unreachable),
            reason: "通过登记的住所（经营场所）无法联系".into(),
        },
        ReplacementRequest::Inspector {
            object: recused.object.clone(),
            inspector: recused.inspectors[0].clone(),
            reason_code: Some(RecusalReason::DeclaredConflict),
            reason: "申报回避".into(),
        },
    ];
    let (at_caps, pool) = base.with_replacements(&requests).unwrap();
    let case = |name, description, bundle: FullBundle, pool: &CommittedPool| Case {
        name,
        description,
        public: PublicBundle::from_full(&bundle, pool),
        bundle,
    };
    let forge = |request: ReplacementRequest| {
        let mut b = at_caps.clone();
        let mut record = b.result.replacements[0].clone();
        record.request = request;
        b.result.replacements.push(record);
        b.result_digest = b.result.digest(Protocol::V2, &b.commitment_hash);
        b
    };
    let over_objects = forge(ReplacementRequest::Object {
        object: next,
        reason_code: Some(ObjectReason::Other),
        reason: "第二次补抽".into(),
    });
    let slot_holder = at_caps
        .result
        .final_assignments
        .iter()
        .find(|a| a.object == recused.object)
        .unwrap()
        .inspectors[0]
        .clone();
    let over_recusals = forge(ReplacementRequest::Inspector {
        object: recused.object.clone(),
        inspector: slot_holder,
        reason_code: Some(RecusalReason::Kinship),
        reason: "再次回避".into(),
    });
    let valid = case(
        "v2-replacements-at-caps",
        "v2 coded replacements at the policy's caps (object_cap_bp 1000: 1 object replacement; 1 recusal per slot)",
        at_caps.clone(),
        &pool,
    );
    let negatives = vec![
        (
            case(
                "v2-over-object-cap",
                "INVALID: the bundle above with a second object replacement appended (cap 1)",
                over_objects,
                &pool,
            ),
            "result.replacements",
            "result",
        ),
        (
            case(
                "v2-over-recusal-cap",
                "INVALID: the bundle above with a second recusal on the same slot appended (cap 1)",
                over_recusals,
                &pool,
            ),
            "result.assignments",
            "result",
        ),
    ];
    (valid, negatives)
}

#[test]
fn frozen_cap_vectors_reproduce_and_verify() {
    let write = std::env::var_os("DOUBLE_RANDOM_WRITE_VECTORS").is_some();
    let (valid, negatives) = cap_cases();
    let mut all = vec![(vector_json(&valid), None)];
    for (c, public_field, full_field) in &negatives {
        let mut v = vector_json(c);
        v["expect_invalid"] = json!({"public": public_field, "full": full_field});
        all.push((v, Some((c, *public_field, *full_field))));
    }
    assert!(verify_full(&valid.bundle).valid && verify_public(&valid.public).valid);
    for (now, negative) in all {
        let name = now["name"].as_str().unwrap().to_owned();
        let path = dir().join("v2").join(format!("{name}.json"));
        if write {
            std::fs::write(&path, serde_json::to_string_pretty(&now).unwrap() + "\n").unwrap();
        } else {
            let frozen: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert!(frozen == now, "{name}: differs from the frozen vector");
        }
        if let Some((c, public_field, full_field)) = negative {
            let full = verify_full(&c.bundle).mismatch.expect("over a cap");
            let public = verify_public(&c.public).mismatch.expect("over a cap");
            assert_eq!(
                (public.field.as_str(), full.field.as_str()),
                (public_field, full_field)
            );
            assert!(full.found.contains("over the cap"), "{full:?}");
        }
    }
}
