//! The CLI spawned as a process: the whole offline flow, tampering, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_double-random"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("spawn double-random")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?} failed: {}", text(&o));
    text(&o)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

const SECRET: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const SALT: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

struct Demo {
    dir: tempfile::TempDir,
}

impl Demo {
    fn new(objects: u32, inspectors: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        ok(&[
            "demo-data",
            "--objects",
            &objects.to_string(),
            "--inspectors",
            &inspectors.to_string(),
            "--seed",
            "7",
            "--out-dir",
            p(dir.path()),
        ]);
        Demo { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn draw_args(&self, objects: &Path, out: &str) -> Vec<String> {
        [
            "draw",
            "--objects",
            p(objects),
            "--inspectors",
            p(&self.path("inspectors.csv")),
            "--policy",
            p(&self.path("policy.toml")),
            "--task-id",
            "T-2026-001",
            "--secret-hex",
            SECRET,
            "--entropy",
            "witness:test=10 11 12",
            "--allow-weak-entropy",
            "--salt-hex",
            SALT,
            "--out",
            p(&self.path(out)),
            "--public-out",
            p(&self.path(&format!("public-{out}"))),
        ]
        .map(String::from)
        .to_vec()
    }

    fn draw(&self) -> String {
        let args = self.draw_args(&self.path("objects.csv"), "bundle.json");
        ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Runs a draw expected to fail on `objects`; asserts nothing was written.
    fn draw_fails(&self, objects: &Path, inspectors: Option<&Path>) -> String {
        let mut args = self.draw_args(objects, "bad.json");
        if let Some(i) = inspectors {
            args[4] = p(i).to_owned();
        }
        let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(!o.status.success(), "draw unexpectedly succeeded");
        assert!(
            !self.path("bad.json").exists() && !self.path("public-bad.json").exists(),
            "output written despite the error"
        );
        text(&o)
    }

    fn verify_json(&self, file: &Path, extra: &[&str]) -> (bool, Value) {
        let mut args = vec!["verify", p(file), "--json"];
        args.extend_from_slice(extra);
        let o = run(&args);
        let v: Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
        assert_eq!(o.status.success(), v["valid"] == true);
        (o.status.success(), v)
    }
}

#[test]
fn demo_command_runs_the_whole_flow() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&[
        "demo",
        "--out-dir",
        p(dir.path()),
        "--objects",
        "500",
        "--inspectors",
        "40",
    ]);
    assert!(
        out.contains("verify bundle.json: VALID") && out.contains("verify public.json: VALID"),
        "{out}"
    );
    assert!(out.contains("against public.json: VALID"), "{out}");
}

#[test]
fn draw_then_verify_full_public_and_proofs() {
    let d = Demo::new(300, 30);
    let summary = d.draw();
    assert!(summary.contains("result digest"), "{summary}");
    let (valid, full) = d.verify_json(&d.path("bundle.json"), &[]);
    assert!(valid, "{full}");
    let digest = full["result_digest"].as_str().unwrap().to_owned();
    assert_eq!(digest.len(), 64);
    let (valid, public) = d.verify_json(&d.path("public-bundle.json"), &[]);
    assert!(valid, "{public}");
    assert_eq!(
        public["result_digest"],
        digest.as_str(),
        "public and full bundles agree on the result"
    );

    let bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path("bundle.json")).unwrap()).unwrap();
    let drawn = bundle["result"]["final_assignments"][0]["object"]
        .as_str()
        .unwrap()
        .to_owned();
    let selected: Vec<&str> = bundle["result"]["strata"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["selected"].as_array().unwrap())
        .map(|v| v.as_str().unwrap())
        .collect();
    let objects = bundle["snapshot"]["objects"].as_array().unwrap();
    let not_drawn = objects
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .find(|id| {
            !selected.contains(id)
                && objects
                    .iter()
                    .any(|o| o["id"] == *id && o["status"] == "active" && o["kind"] != "product")
        })
        .unwrap()
        .to_owned();
    let closed = objects.iter().find(|o| o["status"] == "closed").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = [
        (drawn.as_str(), "drawn"),
        (closed.as_str(), "excluded"),
        ("91420704MA4TEST01X", "not_in_pool"),
    ];
    for (id, outcome) in cases.iter().chain([(not_drawn.as_str(), "")].iter()) {
        let proof = d.path(&format!("proof-{id}.json"));
        ok(&[
            "prove",
            "--bundle",
            p(&d.path("bundle.json")),
            "--id",
            id,
            "--out",
            p(&proof),
        ]);
        let (valid, report) =
            d.verify_json(&proof, &["--public", p(&d.path("public-bundle.json"))]);
        assert!(valid, "{id}: {report}");
        if outcome.is_empty() {
            // Active and in scope, but maybe cooled: either way, not drawn.
            assert!(report["outcome"] == "not_drawn", "{id}: {report}");
        } else {
            assert_eq!(report["outcome"], *outcome, "{id}: {report}");
        }
    }
}

#[test]
fn a_proof_claiming_a_different_outcome_is_rejected() {
    let d = Demo::new(200, 24);
    d.draw();
    let bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path("bundle.json")).unwrap()).unwrap();
    let drawn = bundle["result"]["final_assignments"][0]["object"]
        .as_str()
        .unwrap()
        .to_owned();
    let proof = d.path("proof.json");
    ok(&[
        "prove",
        "--bundle",
        p(&d.path("bundle.json")),
        "--id",
        &drawn,
        "--out",
        p(&proof),
    ]);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    v["outcome"] = "not_drawn".into();
    std::fs::write(&proof, v.to_string()).unwrap();
    let (valid, report) = d.verify_json(&proof, &[]);
    assert!(!valid);
    assert_eq!(report["mismatch"]["field"], "outcome", "{report}");
}

#[test]
fn tampered_bundles_fail_with_the_first_mismatch() {
    let d = Demo::new(200, 24);
    d.draw();
    let original = std::fs::read_to_string(d.path("bundle.json")).unwrap();
    let v: Value = serde_json::from_str(&original).unwrap();
    let tampered = d.path("tampered.json");

    // Swap the first drawn object's first inspector for someone else.
    let mut t = v.clone();
    let first = t["result"]["final_assignments"][0]["inspectors"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let other = t["snapshot"]["inspectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .find(|i| *i != first)
        .unwrap();
    t["result"]["final_assignments"][0]["inspectors"][0] = other.into();
    std::fs::write(&tampered, t.to_string()).unwrap();
    let (valid, report) = d.verify_json(&tampered, &[]);
    assert!(!valid);
    assert!(
        report["mismatch"]["field"]
            .as_str()
            .unwrap()
            .starts_with("result.final_assignments[0]"),
        "{report}"
    );

    // Change a non-drawn object's tier: the commitment no longer matches.
    let mut t = v.clone();
    t["snapshot"]["objects"][0]["tier"] = "focus".into();
    if v["snapshot"]["objects"][0]["tier"] == "focus" {
        t["snapshot"]["objects"][0]["tier"] = "good".into();
    }
    std::fs::write(&tampered, t.to_string()).unwrap();
    let (valid, report) = d.verify_json(&tampered, &[]);
    assert!(!valid);
    assert!(
        report["mismatch"]["field"]
            .as_str()
            .unwrap()
            .starts_with("commitment"),
        "{report}"
    );

    // Human-readable output names the field, expected and found.
    let o = run(&["verify", p(&tampered)]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o);
    assert!(
        out.contains("first mismatch at commitment")
            && out.contains("expected:")
            && out.contains("found:"),
        "{out}"
    );
}

#[test]
fn replacement_via_cli_verifies_and_keeps_earlier_picks() {
    let d = Demo::new(300, 30);
    d.draw();
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path("bundle.json")).unwrap()).unwrap();
    let a = &v["result"]["final_assignments"][0];
    let (object, inspector) = (
        a["object"].as_str().unwrap(),
        a["inspectors"][0].as_str().unwrap(),
    );
    ok(&[
        "replace",
        "--bundle",
        p(&d.path("bundle.json")),
        "--object",
        object,
        "--inspector",
        inspector,
        "--reason-code",
        "kinship",
        "--reason",
        "回避",
        "--out",
        p(&d.path("r1.json")),
    ]);
    ok(&[
        "replace",
        "--bundle",
        p(&d.path("r1.json")),
        "--object",
        object,
        "--reason-code",
        "deregistered",
        "--reason",
        "已注销",
        "--out",
        p(&d.path("r2.json")),
        "--public-out",
        p(&d.path("r2-public.json")),
    ]);
    for f in ["r1.json", "r2.json", "r2-public.json"] {
        let (valid, report) = d.verify_json(&d.path(f), &[]);
        assert!(valid, "{f}: {report}");
    }
    let r2: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path("r2.json")).unwrap()).unwrap();
    assert_eq!(
        r2["result"]["assignments"], v["result"]["assignments"],
        "earlier picks never change"
    );
    assert_eq!(r2["result"]["replacements"].as_array().unwrap().len(), 2);
    let o = run(&[
        "replace",
        "--bundle",
        p(&d.path("r2.json")),
        "--object",
        object,
        "--reason-code",
        "other",
        "--reason",
        "again",
        "--out",
        p(&d.path("r3.json")),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("not among the drawn objects"),
        "{}",
        text(&o)
    );
    assert!(!d.path("r3.json").exists());

    // The replacement proves it was drawn as one; the replaced object, that it was drawn first.
    let replacement = r2["result"]["replacements"][1]["replacement"]
        .as_str()
        .unwrap()
        .to_owned();
    for (id, outcome) in [
        (replacement.as_str(), "drawn_as_replacement"),
        (object, "drawn"),
    ] {
        let proof = d.path(&format!("proof-{id}.json"));
        ok(&[
            "prove",
            "--bundle",
            p(&d.path("r2.json")),
            "--id",
            id,
            "--out",
            p(&proof),
        ]);
        let (valid, report) = d.verify_json(&proof, &["--public", p(&d.path("r2-public.json"))]);
        assert!(valid, "{id}: {report}");
        assert_eq!(report["outcome"], outcome, "{id}: {report}");
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
        assert_eq!(v["replaced_reason"].is_string(), id == object, "{v}");
    }
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn bad_input_names_file_line_and_field_and_writes_nothing() {
    let d = Demo::new(50, 12);
    let dir = d.dir.path();
    let header = "id,name,kind,region,industry,tier,status\n";
    let good = "914403001922038216,鄂州市甲公司,enterprise,鄂城区,食品销售,good,active\n";
    let cases = [
        (
            "bad-uscc.csv",
            format!(
                "{header}{good}914403001922038217,乙公司,enterprise,鄂城区,食品销售,good,active\n"
            ),
            "line 3",
            "field id",
            "check character",
        ),
        (
            "dup.csv",
            format!("{header}{good}{good}"),
            "line 3",
            "field id",
            "duplicate id 914403001922038216 (first at line 2)",
        ),
        (
            "tier.csv",
            format!(
                "{header}{good}9144030071526726XG,乙公司,enterprise,鄂城区,食品销售,platinum,active\n"
            ),
            "line 3",
            "field tier",
            "unknown tier \"platinum\"",
        ),
        (
            "row.csv",
            format!("{header}{good}9144030071526726XG,乙公司,enterprise\n"),
            "line 3",
            "(row)",
            "3 fields",
        ),
        (
            "status.csv",
            format!("{header}9144030071526726XG,乙公司,enterprise,鄂城区,食品销售,good,asleep\n"),
            "line 2",
            "field status",
            "unknown status",
        ),
    ];
    for (name, content, line, field, message) in cases.iter().take(5) {
        let f = write(dir, name, content);
        let out = d.draw_fails(&f, None);
        for needle in [name, line, field, message] {
            assert!(out.contains(needle), "{name}: {needle:?} missing in {out}");
        }
    }

    let policy = std::fs::read_to_string(d.path("policy.toml"))
        .unwrap()
        .replace("ratio = \"50%\"", "ratio = \"120%\"");
    std::fs::write(d.path("policy.toml"), policy).unwrap();
    let out = d.draw_fails(&d.path("objects.csv"), None);
    assert!(
        out.contains("policy.toml") && out.contains("tiers[4].ratio") && out.contains("over 100%"),
        "{out}"
    );
}

#[test]
fn too_few_inspectors_is_an_error_naming_object_and_constraint() {
    let d = Demo::new(200, 12);
    let ins = write(
        d.dir.path(),
        "two.csv",
        "id,name,departments,region,certificate_no,certificate_expiry\nZF1,王伟,市场监管局,鄂城区,C1,2030-01-01\n",
    );
    let out = d.draw_fails(&d.path("objects.csv"), Some(&ins));
    assert!(
        out.contains("cannot match inspectors to object") && out.contains("already on this team"),
        "{out}"
    );
}

#[test]
fn chinese_headers_bom_and_derived_tiers_are_read() {
    let d = Demo::new(10, 12);
    let dir = d.dir.path();
    let csv = "\u{feff}统一社会信用代码,名称,类型,区域,行业,近一年行政处罚次数,失信联合惩戒,登记状态\n\
               914403001922038216,鄂州市甲公司,企业,鄂城区,食品销售,0,否,存续\n\
               9144030071526726XG,鄂州市乙公司,个体工商户,华容区,餐饮服务,2,否,存续\n\
               91330100799655058B,鄂州市丙公司,企业,梁子湖区,药品零售,0,是,存续\n";
    let f = write(dir, "zh.csv", csv);
    let args = d.draw_args(&f, "zh.json");
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path("zh.json")).unwrap()).unwrap();
    let tiers: Vec<(&str, &str)> = v["snapshot"]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o["tier"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tiers,
        [
            ("91330100799655058B", "focus"),
            ("914403001922038216", "good"),
            ("9144030071526726XG", "watch")
        ]
    );
}

#[test]
fn rfc3797_reproduces_the_rfc_example() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = write(
        dir.path(),
        "seeds.txt",
        "# RFC 3797 section 6\n9319\n2 5 12 8 10\n9 18 26 34 41 45\n",
    );
    let names: String = (1..=25).map(|i| format!("name{i}\n")).collect();
    let names = write(dir.path(), "names.txt", &names);
    let out = ok(&[
        "rfc3797",
        "--seeds",
        p(&seeds),
        "--names",
        p(&names),
        "--count",
        "16",
    ]);
    let picks: Vec<&str> = out.lines().map(|l| l.split('\t').nth(1).unwrap()).collect();
    assert_eq!(
        picks,
        [
            "17", "7", "2", "16", "25", "23", "8", "24", "19", "13", "22", "5", "18", "9", "1", "4"
        ]
    );
    assert!(out.starts_with("1\t17\tname17\n"), "{out}");
}

/// `2.5 3` and `2 53` give the same RFC 3797 key string (`2.53./`): a seeds file with a
/// fraction is refused, saying why, instead of drawing from an ambiguous key.
#[test]
fn rfc3797_refuses_fractions_whose_key_is_ambiguous() {
    let dir = tempfile::tempdir().unwrap();
    let names: String = (1..=25).map(|i| format!("name{i}\n")).collect();
    let names = write(dir.path(), "names.txt", &names);
    let pick = |seeds: &str| {
        let seeds = write(dir.path(), "seeds.txt", seeds);
        run(&[
            "rfc3797",
            "--seeds",
            p(&seeds),
            "--names",
            p(&names),
            "--count",
            "3",
        ])
    };
    let whole = pick("2 53\n");
    assert!(whole.status.success(), "{}", text(&whole));
    let fraction = pick("2.5 3\n");
    assert!(!fraction.status.success(), "{}", text(&fraction));
    let e = text(&fraction);
    assert!(
        e.contains("line 1") && e.contains("2.5") && e.contains("same"),
        "{e}"
    );
}

/// A draw whose entropy has under 64 bits of min-entropy (witness values only) is refused
/// unless `--allow-weak-entropy`, which the commitment then publishes; `verify` prints the
/// bits, the warning and the protocol it checked.
#[test]
fn weak_entropy_is_refused_without_the_flag_and_warned_with_it() {
    let demo = Demo::new(40, 10);
    let mut args = demo.draw_args(&demo.path("objects.csv"), "weak.json");
    args.retain(|a| a != "--allow-weak-entropy");
    let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!o.status.success());
    let e = text(&o);
    assert!(
        e.contains("0 bits") && e.contains("--allow-weak-entropy"),
        "{e}"
    );
    assert!(!demo.path("weak.json").exists());
    demo.draw();
    let out = ok(&["verify", p(&demo.path("bundle.json"))]);
    assert!(out.contains("checked as double-random/v2"), "{out}");
    assert!(out.contains("entropy: 0 bits of min-entropy"), "{out}");
    assert!(
        out.contains("WARNING: the announced entropy has 0 bits"),
        "{out}"
    );
    let (_, json) = demo.verify_json(&demo.path("bundle.json"), &[]);
    assert_eq!(json["protocol"], "double-random/v2");
    assert_eq!(json["entropy_bits"], 0);
}

/// The probe: `double-random … | head` panicked with a backtrace when `head` had gone. Now
/// the process ends quietly on the closed pipe, like any Unix filter.
#[cfg(unix)]
#[test]
fn printing_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let mut child = bin()
        .args(["config", "--default"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the process writes its first byte.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {err}",
        out.status
    );
}

/// A policy's syntax error names its real line, column and key; a policy whose tiers leave
/// out one of its own scheme's (a typo) is blamed, not the objects file that uses the tier.
#[test]
fn policy_errors_name_the_policy_line() {
    let d = Demo::new(50, 12);
    let original = std::fs::read_to_string(d.path("policy.toml")).unwrap();
    let line_of =
        |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let broken = original.replace("ratio = \"3%\"", "ratio = 3%");
    std::fs::write(d.path("policy.toml"), &broken).unwrap();
    let out = d.draw_fails(&d.path("objects.csv"), None);
    let expected = format!(
        "policy.toml: line {}, column 9, field tiers[0].ratio:",
        line_of(&broken, "ratio = 3%")
    );
    assert!(out.contains(&expected), "{expected:?} missing in {out}");

    let typo = original.replace("name = \"focus\"", "name = \"focuss\"");
    std::fs::write(d.path("policy.toml"), &typo).unwrap();
    let out = d.draw_fails(&d.path("objects.csv"), None);
    let expected = format!(
        "policy.toml: line {}, field tiers[4].name: the penalty scheme's tier \"focus\", which ",
        line_of(&typo, "focuss")
    );
    assert!(out.contains(&expected), "{expected:?} missing in {out}");
    assert!(
        out.contains("\"focuss\" is not one of the scheme's tiers"),
        "{out}"
    );
    assert!(!out.contains("objects.csv: line"), "{out}");

    // A tier no scheme knows is still the objects file's.
    std::fs::write(d.path("policy.toml"), &original).unwrap();
    let header = "id,name,kind,region,industry,tier,status\n";
    let f = write(
        d.dir.path(),
        "platinum.csv",
        &format!("{header}914403001922038216,甲公司,enterprise,鄂城区,食品销售,platinum,active\n"),
    );
    let out = d.draw_fails(&f, None);
    assert!(
        out.contains("platinum.csv: line 2, field tier: unknown tier"),
        "{out}"
    );
}
