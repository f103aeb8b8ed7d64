//! Deterministic synthetic data that looks like a real Ezhou pool: valid credit codes, the
//! districts and development zones, several departments, a realistic tier mix.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate};

use crate::core::encode::sha256;
use crate::core::model::{Inspector, InspectorId, Object, ObjectId, ObjectStatus, uscc_check_char};
use crate::core::rng::Stream;

/// (name, administrative division code used in credit codes)
pub const REGIONS: [(&str, &str); 5] = [
    ("鄂城区", "420704"),
    ("华容区", "420703"),
    ("梁子湖区", "420702"),
    ("葛店经济技术开发区", "420771"),
    ("临空经济区", "420772"),
];
const INDUSTRIES: [&str; 8] = [
    "食品销售",
    "餐饮服务",
    "药品零售",
    "特种设备使用",
    "工业产品生产",
    "批发零售",
    "商务服务",
    "建材销售",
];
pub const LEAD_DEPARTMENT: &str = "市场监管局";
const OTHER_DEPARTMENTS: [&str; 3] = ["卫生健康委", "应急管理局", "生态环境局"];
const SPECIALTIES: [&str; 6] = ["食品", "药品", "特种设备", "计量", "价格", "广告"];
const NAME_WORDS: [&str; 16] = [
    "长江", "凤凰", "吴都", "江南", "洋澜", "楚天", "鸿达", "恒信", "瑞丰", "金桥", "华容", "梁湖",
    "葛山", "红莲", "沙窝", "临空",
];
const SUFFIXES: [&str; 6] = [
    "商贸有限公司",
    "食品有限公司",
    "餐饮店",
    "大药房",
    "机械制造有限公司",
    "建材经营部",
];
const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙",
];
const GIVEN: [&str; 12] = [
    "伟", "芳", "敏", "静", "强", "磊", "洋", "勇", "军", "杰", "娟", "涛",
];

fn pick<'a, T>(s: &mut Stream, items: &'a [T]) -> &'a T {
    &items[s.below(items.len() as u64) as usize]
}

/// Percent chance.
fn chance(s: &mut Stream, percent: u64) -> bool {
    s.below(100) < percent
}

/// A valid code, unique per `serial`: the 9-character organisation part is `serial` scrambled by
/// a multiplication that is a bijection modulo 31^9.
fn credit_code(serial: u64, division: &str) -> String {
    const ALPHA: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const SPACE: u64 = 31u64.pow(9);
    let mut v = ((serial % SPACE) as u128 * 7_777_777_777 % SPACE as u128) as u64;
    let mut code = format!("91{division}");
    for _ in 0..9 {
        code.push(ALPHA[(v % 31) as usize] as char);
        v /= 31;
    }
    let check = uscc_check_char(code.as_bytes());
    code.push(check);
    code
}

/// The tier and, for the CSV, the penalty record it derives from (domain.md rule).
fn tier(s: &mut Stream) -> (&'static str, u32, bool) {
    match s.below(1000) {
        0..800 => ("good", 0, false),
        800..900 => ("notice", 1, false),
        900..950 => ("watch", 2, false),
        950..980 => ("warning", 3, false),
        980..990 => ("focus", 4 + s.below(3) as u32, false),
        _ => ("focus", s.below(2) as u32, true),
    }
}

pub struct DemoObject {
    pub object: Object,
    pub penalties_12m: u32,
    pub blacklisted: bool,
}

pub fn objects(n: u64, inspectors: u64, seed: u64, draw_date: NaiveDate) -> Vec<DemoObject> {
    let mut s = Stream::from_key(sha256(
        format!("double-random demo objects {seed}").as_bytes(),
    ));
    let mut out = Vec::with_capacity(n as usize);
    for serial in 0..n {
        let (region, division) = *pick(&mut s, &REGIONS);
        let kind = match s.below(100) {
            0..85 => "enterprise",
            85..97 => "individual_business",
            _ => "product",
        };
        let id = if kind == "product" {
            format!("P{serial:09}")
        } else {
            credit_code(serial, division)
        };
        let (tier, penalties_12m, blacklisted) = tier(&mut s);
        let status = match s.below(100) {
            0..96 => ObjectStatus::Active,
            96..98 => ObjectStatus::Closed,
            98 => ObjectStatus::Deregistered,
            _ => ObjectStatus::Revoked,
        };
        let (last_inspected, last_inspectors) = if chance(&mut s, 20) && inspectors >= 2 {
            let d = draw_date - Days::new(30 + s.below(700));
            let a = s.below(inspectors);
            let b = (a + 1 + s.below(inspectors - 1)) % inspectors;
            (Some(d), vec![inspector_id(a), inspector_id(b)])
        } else {
            (None, Vec::new())
        };
        let name = if kind == "product" {
            format!(
                "{}牌{}",
                pick(&mut s, &NAME_WORDS),
                pick(&mut s, &["食用油", "电动车", "儿童玩具", "压力锅"])
            )
        } else {
            format!(
                "鄂州市{}{}{}",
                pick(&mut s, &NAME_WORDS),
                pick(&mut s, &NAME_WORDS),
                pick(&mut s, &SUFFIXES)
            )
        };
        out.push(DemoObject {
            object: Object {
                id: ObjectId::parse(&id).expect("generated ids are valid"),
                name: name.into(),
                kind: kind.into(),
                region: region.into(),
                industry: (*pick(&mut s, &INDUSTRIES)).into(),
                tier: tier.into(),
                status,
                last_inspected,
                last_inspectors: last_inspectors.into(),
                attributes: BTreeMap::new(),
            },
            penalties_12m,
            blacklisted,
        });
    }
    out
}

fn inspector_id(i: u64) -> InspectorId {
    InspectorId::parse(&format!("ZF{:06}", i + 1)).expect("valid id")
}

pub fn inspectors(
    n: u64,
    objects: &[DemoObject],
    seed: u64,
    draw_date: NaiveDate,
) -> Vec<Inspector> {
    let mut s = Stream::from_key(sha256(
        format!("double-random demo inspectors {seed}").as_bytes(),
    ));
    (0..n)
        .map(|i| {
            let mut departments = vec![LEAD_DEPARTMENT.to_owned()];
            if chance(&mut s, 30) {
                departments = vec![(*pick(&mut s, &OTHER_DEPARTMENTS)).to_owned()];
            }
            if chance(&mut s, 10) {
                departments.push(LEAD_DEPARTMENT.to_owned());
            }
            let mut specialties = vec![(*pick(&mut s, &SPECIALTIES)).to_owned()];
            if chance(&mut s, 40) {
                specialties.push((*pick(&mut s, &SPECIALTIES)).to_owned());
            }
            // About 3% hold a certificate that has expired by the draw date.
            let expiry = if chance(&mut s, 3) {
                draw_date - Days::new(1 + s.below(300))
            } else {
                draw_date + Days::new(30 + s.below(1100))
            };
            let conflicts = if chance(&mut s, 2) && !objects.is_empty() {
                vec![
                    objects[s.below(objects.len() as u64) as usize]
                        .object
                        .id
                        .clone(),
                ]
            } else {
                Vec::new()
            };
            Inspector {
                id: inspector_id(i),
                name: format!(
                    "{}{}{}",
                    pick(&mut s, &SURNAMES),
                    pick(&mut s, &GIVEN),
                    pick(&mut s, &GIVEN)
                ),
                departments,
                region: REGIONS[s.below(REGIONS.len() as u64) as usize].0.into(),
                specialties,
                certificate_no: format!("4207{:08}", s.below(100_000_000)),
                certificate_expiry: expiry,
                conflicts,
                max_load: None,
            }
        })
        .collect()
}

pub fn policy_toml(draw_date: NaiveDate) -> String {
    format!(
        r#"# Draw policy (double-random/v1). Tiers run from lowest to highest risk.
draw_date = "{draw_date}"
# ratio: a sampling ratio per tier; count: a fixed number per tier; weighted: `total` with a weight per tier.
mode = "ratio"
# How a ratio becomes a count: "up" (never fewer than the ratio), "down" or "nearest".
rounding = "up"
# "penalty" (good, notice, watch, warning, focus; 鄂州政办发〔2021〕29号) or "abcd" (SAMR A–D).
tier_scheme = "penalty"

[[tiers]]
name = "good"
ratio = "3%"
[[tiers]]
name = "notice"
ratio = "5%"
[[tiers]]
name = "watch"
ratio = "10%"
[[tiers]]
name = "warning"
ratio = "20%"
[[tiers]]
name = "focus"
ratio = "50%"

# Directed tasks narrow the pool; empty lists mean everything.
[scope]
kinds = ["enterprise", "individual_business"]

# Objects inspected in the last year stay in the pool at half their tier's ratio.
[cooldown]
days = 365
action = "downweight"
percent = 50

[inspectors]
per_object = 2
# Lead department first; a joint task lists the participating departments after it.
departments = ["{LEAD_DEPARTMENT}"]
# "any", "same" (the object's own region) or "cross" (another region).
region_rule = "any"
exclude_previous = true
"#
    )
}

/// The demo pool as an office keeps it: the two libraries, credit records, inspection history,
/// the check-item list and a task file, all in the formats `import` and `task add` read.
pub fn write_library(
    dir: &std::path::Path,
    objects: &[DemoObject],
    inspectors: &[Inspector],
    draw_date: NaiveDate,
) -> anyhow::Result<()> {
    use super::output::write_atomic;
    let csv_file = |name: &str,
                    header: &[&str],
                    rows: &mut dyn FnMut(
        &mut csv::Writer<&mut dyn std::io::Write>,
    ) -> anyhow::Result<()>| {
        write_atomic(&dir.join(name), |w| {
            let mut csv = csv::Writer::from_writer(w);
            csv.write_record(header)?;
            rows(&mut csv)?;
            csv.flush()?;
            Ok(())
        })
    };
    csv_file(
        "objects.csv",
        &["id", "name", "kind", "region", "industry", "status"],
        &mut |csv| {
            for d in objects {
                let o = &d.object;
                csv.write_record([
                    o.id.as_str(),
                    &o.name,
                    &o.kind,
                    &o.region,
                    &o.industry,
                    o.status.as_str(),
                ])?;
            }
            Ok(())
        },
    )?;
    csv_file(
        "inspectors.csv",
        &[
            "id",
            "name",
            "departments",
            "region",
            "specialties",
            "certificate_no",
            "certificate_expiry",
            "conflicts",
            "active",
        ],
        &mut |csv| {
            for i in inspectors {
                let conflicts: Vec<&str> = i.conflicts.iter().map(|c| c.as_str()).collect();
                csv.write_record([
                    i.id.as_str(),
                    &i.name,
                    &i.departments.join(";"),
                    &i.region,
                    &i.specialties.join(";"),
                    &i.certificate_no,
                    &i.certificate_expiry.to_string(),
                    &conflicts.join(";"),
                    "yes",
                ])?;
            }
            Ok(())
        },
    )?;
    // Penalties spread over the year before the draw date, so the tier rule finds them.
    csv_file(
        "penalties.csv",
        &[
            "object_id",
            "kind",
            "date",
            "until",
            "authority",
            "document_no",
        ],
        &mut |csv| {
            let mut n = 0u64;
            for d in objects {
                for k in 0..d.penalties_12m {
                    n += 1;
                    let date = draw_date - chrono::Days::new(20 + 60 * u64::from(k) + n % 30);
                    let doc = format!("鄂市监罚〔{}〕{n}号", date.format("%Y"));
                    csv.write_record([
                        d.object.id.as_str(),
                        "penalty",
                        &date.to_string(),
                        "",
                        "鄂州市市场监督管理局",
                        &doc,
                    ])?;
                }
                if d.blacklisted {
                    n += 1;
                    let date = draw_date - chrono::Days::new(400);
                    let doc = format!("鄂发改信用〔{}〕{n}号", date.format("%Y"));
                    csv.write_record([
                        d.object.id.as_str(),
                        "joint_punishment",
                        &date.to_string(),
                        "",
                        "鄂州市发展和改革委员会",
                        &doc,
                    ])?;
                }
            }
            Ok(())
        },
    )?;
    csv_file(
        "inspections.csv",
        &["object_id", "date", "inspectors", "result", "task"],
        &mut |csv| {
            for d in objects {
                if let Some(date) = d.object.last_inspected {
                    let team: Vec<&str> = d
                        .object
                        .last_inspectors
                        .iter()
                        .map(|i| i.as_str())
                        .collect();
                    csv.write_record([
                        d.object.id.as_str(),
                        &date.to_string(),
                        &team.join(";"),
                        "未发现问题",
                        "demo-earlier",
                    ])?;
                }
            }
            Ok(())
        },
    )?;
    write_atomic(&dir.join("items.csv"), |w| {
        Ok(w.write_all(
            "code,name,legal_basis,department,kinds,method,category,ratios,inspectors_per_object\n\
             SC-001,企业公示信息抽查,《企业信息公示暂行条例》第十四条,市场监管局,enterprise;individual_business,documentary,general,good=3%;focus=50%,2\n"
                .as_bytes(),
        )?)
    })?;
    let policy = policy_toml(draw_date);
    let policy: String = policy
        .lines()
        .filter(|l| !l.starts_with("draw_date"))
        .map(|l| match l.strip_prefix('[') {
            // Nest the policy's tables under [policy] in the task file.
            Some(rest) if rest.starts_with('[') => format!("[[policy.{}", &rest[1..]),
            Some(rest) => format!("[policy.{rest}"),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let (top, tables) = policy.split_at(policy.find("\n[").unwrap_or(policy.len()));
    let task = format!(
        "id = \"demo-{year}-01\"\nname = \"{year}年度企业公示信息抽查\"\nitems = [\"SC-001\"]\nlead_department = \"市场监管局\"\nwindow_start = {start}\nwindow_end = {end}\ndate = {date}\n# Offline demo: witness values only (0 bits of min-entropy), published as such.\nallow_weak_entropy = true\n\n[policy]\n{top}\n{tables}\n",
        year = draw_date.format("%Y"),
        start = draw_date.with_day(1).expect("day 1"),
        end = draw_date
            .with_month(12)
            .and_then(|d| d.with_day(31))
            .expect("31 Dec"),
        date = draw_date,
    );
    write_atomic(
        &dir.join("task.toml"),
        |w| Ok(w.write_all(task.as_bytes())?),
    )
}

/// Writes the demo's objects.csv, inspectors.csv and policy.toml into `dir` and, with
/// `library`, the library files in `dir/library/`.
pub fn write_files(
    dir: &std::path::Path,
    objects: u64,
    inspectors: u64,
    seed: u64,
    draw_date: NaiveDate,
    library: bool,
) -> anyhow::Result<()> {
    use super::output::write_atomic;
    let objs = self::objects(objects, inspectors, seed, draw_date);
    let ins = self::inspectors(inspectors, &objs, seed, draw_date);
    if library {
        write_library(&dir.join("library"), &objs, &ins, draw_date)?;
    }
    write_atomic(&dir.join("objects.csv"), |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record([
            "id",
            "name",
            "kind",
            "region",
            "industry",
            "status",
            "penalties_12m",
            "blacklisted",
            "last_inspected",
            "last_inspectors",
        ])?;
        for d in &objs {
            let o = &d.object;
            csv.write_record([
                o.id.as_str(),
                &o.name,
                &o.kind,
                &o.region,
                &o.industry,
                o.status.as_str(),
                &d.penalties_12m.to_string(),
                if d.blacklisted { "yes" } else { "no" },
                &o.last_inspected.map(|d| d.to_string()).unwrap_or_default(),
                &semicolons(&o.last_inspectors),
            ])?;
        }
        csv.flush()?;
        Ok(())
    })?;
    write_atomic(&dir.join("inspectors.csv"), |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record([
            "id",
            "name",
            "departments",
            "region",
            "specialties",
            "certificate_no",
            "certificate_expiry",
            "conflicts",
        ])?;
        for i in &ins {
            csv.write_record([
                i.id.as_str(),
                &i.name,
                &i.departments.join(";"),
                &i.region,
                &i.specialties.join(";"),
                &i.certificate_no,
                &i.certificate_expiry.to_string(),
                &semicolons(&i.conflicts),
            ])?;
        }
        csv.flush()?;
        Ok(())
    })?;
    write_atomic(&dir.join("policy.toml"), |w| {
        Ok(w.write_all(policy_toml(draw_date).as_bytes())?)
    })
}

/// A list field as the CSV files write it.
fn semicolons<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(";")
}
