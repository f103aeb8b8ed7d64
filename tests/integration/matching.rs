//! Inspector matching rules, through the library API on hand-made pools.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use double_random::core::CoreError;
use double_random::core::bundle::FullBundle;
use double_random::core::model::{Inspector, InspectorId, Object, ObjectId, ObjectStatus};

use crate::support::*;

fn object(id: &str, region: &str) -> Object {
    Object {
        id: ObjectId::parse(id).unwrap(),
        name: format!("对象{id}").into(),
        kind: "product".into(),
        region: region.into(),
        industry: "食品销售".into(),
        tier: "good".into(),
        status: ObjectStatus::Active,
        last_inspected: None,
        last_inspectors: Box::default(),
        attributes: BTreeMap::new(),
    }
}

fn inspector(id: &str, departments: &[&str], region: &str) -> Inspector {
    Inspector {
        id: InspectorId::parse(id).unwrap(),
        name: format!("检查员{id}"),
        departments: departments.iter().map(|d| d.to_string()).collect(),
        region: region.into(),
        specialties: vec!["食品".into()],
        certificate_no: format!("C-{id}"),
        certificate_expiry: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
        conflicts: Vec::new(),
        max_load: None,
    }
}

/// Every object drawn (100%), with the given inspector rules.
fn all_drawn(rules: &str) -> String {
    format!(
        r#"draw_date = "2026-12-01"
mode = "ratio"
[[tiers]]
name = "good"
ratio = "100%"
[inspectors]
{rules}
"#
    )
}

fn run(
    rules: &str,
    objects: Vec<Object>,
    inspectors: Vec<Inspector>,
) -> Result<FullBundle, CoreError> {
    FullBundle::create(inputs(policy(&all_drawn(rules)), objects, inspectors, "m")).map(|(b, _)| b)
}

fn team_of<'a>(b: &'a FullBundle, id: &str) -> &'a [InspectorId] {
    &b.result
        .final_assignments
        .iter()
        .find(|a| a.object.as_str() == id)
        .unwrap()
        .inspectors
}

#[test]
fn joint_task_takes_one_inspector_per_department() {
    let objects = (0..6).map(|i| object(&format!("P{i}"), "鄂城区")).collect();
    let mut inspectors: Vec<_> = (0..4)
        .map(|i| inspector(&format!("A{i}"), &["市场监管局"], "鄂城区"))
        .collect();
    inspectors.extend((0..4).map(|i| inspector(&format!("B{i}"), &["卫生健康委"], "鄂城区")));
    let b = run(
        "departments = [\"市场监管局\", \"卫生健康委\"]\nper_object = 3",
        objects,
        inspectors,
    )
    .unwrap();
    for a in &b.result.final_assignments {
        assert_eq!(a.inspectors.len(), 3);
        assert!(a.inspectors[0].as_str().starts_with('A'), "{a:?}");
        assert!(a.inspectors[1].as_str().starts_with('B'), "{a:?}");
        let mut unique = a.inspectors.clone();
        unique.dedup();
        assert_eq!(unique.len(), 3);
    }
}

#[test]
fn region_rules_are_respected() {
    let objects: Vec<_> = (0..8)
        .map(|i| object(&format!("P{i}"), ["鄂城区", "华容区"][i % 2]))
        .collect();
    let inspectors: Vec<_> = (0..8)
        .map(|i| {
            inspector(
                &format!("I{i}"),
                &["市场监管局"],
                ["鄂城区", "华容区"][i % 2],
            )
        })
        .collect();
    let region = |b: &FullBundle, id: &InspectorId| {
        b.snapshot
            .inspectors()
            .iter()
            .find(|i| &i.id == id)
            .unwrap()
            .region
            .clone()
    };
    for (rule, same) in [("same", true), ("cross", false)] {
        let b = run(
            &format!("departments = [\"市场监管局\"]\nregion_rule = \"{rule}\""),
            objects.clone(),
            inspectors.clone(),
        )
        .unwrap();
        for a in &b.result.final_assignments {
            let o = b
                .snapshot
                .objects()
                .iter()
                .find(|o| o.id == a.object)
                .unwrap();
            for i in &a.inspectors {
                assert_eq!(region(&b, i) == o.region.as_str(), same, "{rule}: {a:?}");
            }
        }
    }
}

#[test]
fn conflicts_previous_inspectors_and_expired_certificates_are_excluded() {
    let mut o = object("P1", "鄂城区");
    o.last_inspectors = vec![InspectorId::parse("I0").unwrap()].into();
    let mut ins: Vec<_> = (0..5)
        .map(|i| inspector(&format!("I{i}"), &["市场监管局"], "鄂城区"))
        .collect();
    ins[1].conflicts = vec![ObjectId::parse("P1").unwrap()];
    ins[2].certificate_expiry = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let b = run("departments = [\"市场监管局\"]", vec![o], ins).unwrap();
    let mut team: Vec<&str> = team_of(&b, "P1").iter().map(|i| i.as_str()).collect();
    team.sort();
    assert_eq!(team, ["I3", "I4"]);
}

#[test]
fn unmeetable_constraints_name_the_object_and_the_constraint() {
    let mut ins: Vec<_> = (0..2)
        .map(|i| inspector(&format!("I{i}"), &["市场监管局"], "鄂城区"))
        .collect();
    ins[0].conflicts = vec![ObjectId::parse("P7").unwrap()];
    let err = run(
        "departments = [\"市场监管局\"]",
        vec![object("P7", "鄂城区")],
        ins.clone(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("P7") && err.contains("already on this team"),
        "{err}"
    );
    let err = run(
        "departments = [\"市场监管局\"]\nspecialty = \"药品\"",
        vec![object("P7", "鄂城区")],
        ins.clone(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("P7") && err.contains("required specialty"),
        "{err}"
    );
    let err = run(
        "departments = [\"应急管理局\"]",
        vec![object("P7", "鄂城区")],
        ins,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("department"), "{err}");
}

#[test]
fn load_is_spread_evenly_and_capped() {
    let objects: Vec<_> = (0..30)
        .map(|i| object(&format!("P{i:02}"), "鄂城区"))
        .collect();
    let inspectors: Vec<_> = (0..12)
        .map(|i| inspector(&format!("I{i:02}"), &["市场监管局"], "鄂城区"))
        .collect();
    let b = run(
        "departments = [\"市场监管局\"]",
        objects.clone(),
        inspectors.clone(),
    )
    .unwrap();
    let mut load: BTreeMap<&InspectorId, u32> = BTreeMap::new();
    for a in &b.result.final_assignments {
        for i in &a.inspectors {
            *load.entry(i).or_default() += 1;
        }
    }
    // 60 slots over 12 inspectors: least-load-first gives exactly 5 each.
    assert_eq!(load.len(), 12);
    assert!(load.values().all(|&l| l == 5), "{load:?}");

    let mut capped = inspectors.clone();
    capped[0].max_load = Some(1);
    let b = run(
        "departments = [\"市场监管局\"]\nmax_load = 6",
        objects.clone(),
        capped,
    )
    .unwrap();
    let count = |id: &str| {
        b.result
            .final_assignments
            .iter()
            .filter(|a| a.inspectors.iter().any(|i| i.as_str() == id))
            .count()
    };
    assert_eq!(count("I00"), 1);
    assert!((1..12).all(|i| count(&format!("I{i:02}")) <= 6));

    let err = run(
        "departments = [\"市场监管局\"]\nmax_load = 4",
        objects,
        inspectors,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("load cap"), "{err}");
}

#[test]
fn recusal_and_object_replacement_follow_the_seed() {
    use double_random::core::draw::ReplacementRequest;
    use double_random::core::replacement::{ObjectReason, RecusalReason};
    let objects: Vec<_> = (0..10)
        .map(|i| object(&format!("P{i}"), "鄂城区"))
        .collect();
    let inspectors: Vec<_> = (0..6)
        .map(|i| inspector(&format!("I{i}"), &["市场监管局"], "鄂城区"))
        .collect();
    let p = policy(&all_drawn("departments = [\"市场监管局\"]").replace("100%", "50%"));
    let (b, _) = FullBundle::create(inputs(p, objects, inspectors, "r")).unwrap();
    let first = b.result.final_assignments[0].clone();
    let recuse = ReplacementRequest::Inspector {
        object: first.object.clone(),
        inspector: first.inspectors[1].clone(),
        reason_code: Some(RecusalReason::Kinship),
        reason: "回避".into(),
    };
    let (b2, _) = b.with_replacements(std::slice::from_ref(&recuse)).unwrap();
    let (b3, _) = b.with_replacements(&[recuse]).unwrap();
    assert_eq!(
        b2.result_digest, b3.result_digest,
        "replacements are deterministic"
    );
    let team = team_of(&b2, first.object.as_str());
    assert_eq!(team[0], first.inspectors[0]);
    assert_ne!(team[1], first.inspectors[1]);

    let drop = ReplacementRequest::Object {
        object: first.object.clone(),
        reason_code: Some(ObjectReason::Deregistered),
        reason: "注销".into(),
    };
    let (b4, _) = b.with_replacements(&[drop]).unwrap();
    assert_eq!(b4.result.strata[0].selected, b.result.strata[0].selected);
    assert!(b4.result.strata[0].extended_cutoff > b4.result.strata[0].cutoff);
    let bad = ReplacementRequest::Object {
        object: first.object.clone(),
        reason_code: Some(ObjectReason::Other),
        reason: " ".into(),
    };
    assert!(
        b.with_replacements(&[bad])
            .unwrap_err()
            .to_string()
            .contains("reason")
    );
    let not_drawn = b
        .snapshot
        .objects()
        .iter()
        .find(|o| !b.result.strata[0].selected.contains(&o.id))
        .unwrap()
        .id
        .clone();
    let bad = ReplacementRequest::Object {
        object: not_drawn,
        reason_code: Some(ObjectReason::Other),
        reason: "x".into(),
    };
    assert!(
        b.with_replacements(&[bad])
            .unwrap_err()
            .to_string()
            .contains("not among the drawn")
    );
}
