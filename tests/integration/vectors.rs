//! Frozen test vectors (tests/vectors/*.json): inputs, and the full and public bundles they
//! must produce byte for byte. Regenerate only with a protocol version change:
//! `DOUBLE_RANDOM_WRITE_VECTORS=1 cargo test --test integration vectors`.

use std::path::PathBuf;

use double_random::core::beacon::{Announcement, Beacon, BeaconRecord, Chain};
use double_random::core::bundle::{FullBundle, HexBytes, PublicBundle, verify_full, verify_public};
use double_random::core::draw::ReplacementRequest;
use double_random::core::model::{InspectorId, ObjectId};
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

    // Witness values and quicknet's round 123 combined (draw-spec §20).
    let (chain, beacon) = quicknet_round_123();
    let mut d = inputs(demo_policy(), objects.clone(), inspectors.clone(), "drand");
    d.entropy_source = format!(
        "witness: 福彩3D 2026333 (values entered by 2 officer(s), RFC 3797 canonical form)\n{}",
        Announcement::for_round(&chain, 123).line()
    );
    d.entropy = vec![b"3.7.9./".to_vec(), chain.verify(&beacon).unwrap().to_vec()];
    d.beacons = vec![BeaconRecord { chain, beacon }];
    add(
        "drand-witness",
        "the demo policy drawn with witness values and drand quicknet round 123, in that order",
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
            reason: "已关闭停业".into(),
        },
        ReplacementRequest::Inspector {
            object: second.object.clone(),
            inspector: second.inspectors[0].clone(),
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

fn vector_json(c: &Case) -> Value {
    json!({
        "name": c.name,
        "description": c.description,
        "protocol": c.bundle.commitment.protocol.id(),
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
        let path = dir().join(format!("{}.json", c.name));
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

#[test]
fn frozen_bundles_verify() {
    for c in cases() {
        let text = std::fs::read_to_string(dir().join(format!("{}.json", c.name))).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let full: FullBundle = serde_json::from_value(v["full_bundle"].clone()).unwrap();
        let public: PublicBundle = serde_json::from_value(v["public_bundle"].clone()).unwrap();
        let r = verify_full(&full);
        assert!(r.valid, "{}: {:?}", c.name, r.mismatch);
        assert_eq!(r.result_digest.as_deref(), v["result_digest"].as_str());
        let r = verify_public(&public);
        assert!(r.valid, "{}: {:?}", c.name, r.mismatch);
        assert_eq!(r.result_digest.as_deref(), v["result_digest"].as_str());
    }
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
        let conflicts: Vec<&ObjectId> = c
            .public
            .inspectors
            .iter()
            .flat_map(|i| &i.conflicts)
            .collect();
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
