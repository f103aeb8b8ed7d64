//! `double-random demo` and `demo-data`: the whole job on built-in data (draw, verify, prove,
//! the office's database), and the demo files alone.

use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;

use super::draw::{print_summary, write_bundles};
use super::verify::verify_file;
use super::{demo, demo_office, input, output};
use crate::core::Protocol;
use crate::core::bundle::{self, DrawInputs, FullBundle};
use crate::core::entropy::{Announced, EntropySource, LotteryGroup};
use crate::core::model::Snapshot;
use crate::core::secret::{SaltKey, Secret};

#[derive(Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "demo-out")]
    out_dir: PathBuf,
    #[arg(long, default_value_t = 2000)]
    objects: u64,
    #[arg(long, default_value_t = 120)]
    inspectors: u64,
}

#[derive(Args)]
pub struct DemoDataArgs {
    #[arg(long)]
    objects: u64,
    #[arg(long)]
    inspectors: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    out_dir: PathBuf,
    #[arg(long, default_value = "2026-12-01")]
    draw_date: NaiveDate,
    /// Also write the library files for `import` (objects, inspectors, penalties,
    /// inspections, items) and a task file, in DIR/library/.
    #[arg(long)]
    library: bool,
}

/// `demo-data`: the demo's files, for trying `draw` and `import` by hand.
pub fn demo_data(a: DemoDataArgs) -> Result<i32> {
    let DemoDataArgs {
        objects,
        inspectors,
        seed,
        out_dir,
        draw_date,
        library,
    } = a;
    demo::write_files(&out_dir, objects, inspectors, seed, draw_date, library)?;
    println!(
        "wrote objects.csv, inspectors.csv, policy.toml to {}",
        out_dir.display()
    );
    if library {
        println!(
            "wrote objects.csv, inspectors.csv, penalties.csv, inspections.csv, items.csv, task.toml to {}",
            out_dir.join("library").display()
        );
    }
    Ok(0)
}

/// `demo`: draw, verify and prove on the demo files, then the office's database; exit 1 if
/// anything did not verify.
pub fn demo(a: DemoArgs) -> Result<i32> {
    let DemoArgs {
        out_dir: dir,
        objects,
        inspectors,
    } = a;
    let dir = dir.as_path();
    let date = "2026-12-01".parse().expect("date");
    demo::write_files(dir, objects, inspectors, 1, date, true)?;
    let policy = input::read_policy(&dir.join("policy.toml"))?;
    let snapshot = Snapshot::new(
        input::read_objects(&dir.join("objects.csv"), &policy, &dir.join("policy.toml"))?,
        input::read_inspectors(&dir.join("inspectors.csv"))?,
    )?;
    // Fixed demo values so the demo is reproducible; a real draw takes a fresh secret and public entropy.
    // A lottery has about 24 bits of min-entropy, under the 64 a draw needs: the demo says so
    // with allow_weak (and `verify` warns), where a real draw adds a drand round.
    let lottery = EntropySource::Lottery {
        name: "双色球".into(),
        issue: "2026138".into(),
        draw_date: date,
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
    };
    let inputs = DrawInputs {
        protocol: Protocol::CURRENT,
        task_id: "demo-2026-12".into(),
        policy,
        snapshot,
        salt_key: SaltKey(crate::core::encode::sha256(b"demo salt key")),
        secret: Secret::new(crate::core::encode::sha256(b"demo secret").to_vec())
            .map_err(anyhow::Error::msg)?,
        announced: Announced {
            text: "demo: fixed numbers standing for 双色球 issue 2026138 (a real draw announces \
                   a future drawing and a drand round)"
                .into(),
            sources: vec![lottery],
            allow_weak: true,
        },
        entropy: vec![b"3 7 12 19 25 31 + 9".to_vec()],
        beacons: Vec::new(),
        replacements: Vec::new(),
    };
    let (full, pool) = FullBundle::create(inputs)?;
    write_bundles(
        &full,
        &pool,
        &dir.join("bundle.json"),
        Some(&dir.join("public.json")),
    )?;
    print_summary(&full);
    let mut valid = true;
    for name in ["bundle.json", "public.json"] {
        let report = verify_file(&dir.join(name), None)?;
        println!(
            "verify {name}: {}",
            if report.valid { "VALID" } else { "INVALID" }
        );
        valid &= report.valid;
    }
    let some_drawn = full
        .result
        .final_assignments
        .first()
        .map(|a| a.object.clone());
    if let Some(id) = some_drawn {
        let proof = bundle::prove(&full, &pool, &id);
        output::write_json(&dir.join("proof.json"), &proof)?;
        let report = verify_file(&dir.join("proof.json"), Some(&dir.join("public.json")))?;
        println!(
            "verify proof.json for {id} against public.json: {}",
            if report.valid { "VALID" } else { "INVALID" }
        );
        valid &= report.valid;
    }
    valid &= demo_office::demo_office(dir, date)?;
    println!("files in {}", dir.display());
    Ok(if valid { 0 } else { 1 })
}
