//! `double-random draw`: read the pool and policy, commit, derive the seed, draw, and write the
//! bundles; and the bundle writing and summary other commands share.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use super::{entropy_arg, input, output};
use crate::core::entropy::{self, Announced, EntropySource};
use crate::core::{CoreError, Protocol};
use crate::core::bundle::{DrawInputs, FullBundle, PublicBundle};
use crate::core::model::Snapshot;
use crate::core::policy::format_ratio;
use crate::core::pool::CommittedPool;
use crate::core::secret::{SaltKey, Secret};

#[derive(Args)]
pub struct DrawArgs {
    #[arg(long)]
    objects: PathBuf,
    #[arg(long)]
    inspectors: PathBuf,
    #[arg(long)]
    policy: PathBuf,
    #[arg(long)]
    task_id: String,
    /// The draw secret (at least 16 bytes, hex); its SHA-256 is committed.
    #[arg(long)]
    secret_hex: String,
    /// An announced entropy source and its value, in order (repeat for several):
    /// `witness:<event>=<numbers>`, `lottery:<file.toml>=<numbers>` (groups separated by
    /// `+`), `drand:<beacon.json>` (a beacon record). See docs/draw-spec.md §7.6.
    #[arg(long = "entropy", required = true, value_name = "KIND:SPEC")]
    entropy: Vec<String>,
    /// Commit although the sources give under 64 bits of min-entropy (published in the
    /// commitment; `verify` warns).
    #[arg(long)]
    allow_weak_entropy: bool,
    /// The human description of the entropy (default: one line per source).
    #[arg(long)]
    entropy_source: Option<String>,
    /// Key of the private leaf salts (32 bytes, hex). Default: fresh from the OS.
    #[arg(long)]
    salt_hex: Option<String>,
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    public_out: Option<PathBuf>,
    /// Print how long each phase took, to standard error.
    #[arg(long)]
    timings: bool,
}

pub fn run(a: DrawArgs) -> Result<i32> {
    let DrawArgs {
        objects,
        inspectors,
        policy,
        task_id,
        secret_hex,
        entropy,
        allow_weak_entropy,
        entropy_source,
        salt_hex,
        out,
        public_out,
        timings,
    } = a;
    let clock = Phases::new(timings);
    let given = entropy
        .iter()
        .map(|e| entropy_arg::parse(e))
        .collect::<Result<Vec<_>>>()?;
    let sources: Vec<EntropySource> = given.iter().map(|g| g.source.clone()).collect();
    let bits = entropy::total_bits(&sources);
    if bits < entropy::MIN_BITS && !allow_weak_entropy {
        anyhow::bail!(
            "the entropy sources give {bits} bits of min-entropy, under the {} a draw needs: \
             an authority could try secrets until the draw suits it. Add a drand round \
             (--entropy drand:<beacon.json>), or pass --allow-weak-entropy, which the \
             commitment publishes",
            entropy::MIN_BITS
        );
    }
    let announced = Announced {
        text: entropy_source.unwrap_or_else(|| describe(&sources)),
        sources,
        allow_weak: allow_weak_entropy,
    };
    let beacons = given.iter().filter_map(|g| g.beacon.clone()).collect();
    let entropy = given.into_iter().map(|g| g.value).collect();
    let secret = Secret::new(decode_hex(&secret_hex).context("--secret-hex")?)
        .map_err(anyhow::Error::msg)
        .context("--secret-hex")?;
    let salt_key = match salt_hex {
        Some(h) => SaltKey(
            decode_hex(&h)?
                .try_into()
                .map_err(|_| anyhow::anyhow!("--salt-hex: expected 32 bytes"))?,
        ),
        None => {
            let mut k = [0u8; 32];
            getrandom::fill(&mut k).map_err(|e| anyhow::anyhow!("OS randomness: {e}"))?;
            SaltKey(k)
        }
    };
    let policy_file = policy;
    let policy = input::read_policy(&policy_file)?;
    let (objects_file, inspectors_file) = (objects, inspectors);
    let objects = input::read_objects(&objects_file, &policy, &policy_file)?;
    let inspectors = input::read_inspectors(&inspectors_file)?;
    clock.lap("read CSV");
    let snapshot = Snapshot::new(objects, inspectors).map_err(|e| match e {
        CoreError::DuplicateId { kind: "object", id } => {
            input::duplicate_error(&objects_file, &id).into()
        }
        CoreError::DuplicateId { id, .. } => input::duplicate_error(&inspectors_file, &id).into(),
        e => anyhow::Error::from(e),
    })?;
    clock.lap("canonical snapshot");
    let inputs = DrawInputs {
        protocol: Protocol::CURRENT,
        task_id,
        policy,
        snapshot,
        salt_key,
        secret,
        announced,
        entropy,
        beacons,
        replacements: Vec::new(),
    };
    let (full, pool) = FullBundle::create(inputs)?;
    clock.lap("commit and draw");
    write_bundles(&full, &pool, &out, public_out.as_deref())?;
    clock.lap("write bundles");
    print_summary(&full);
    Ok(0)
}

/// The default description: one line per source (a drand source as its §20.1 line).
fn describe(sources: &[EntropySource]) -> String {
    sources
        .iter()
        .map(|s| s.drand_line().unwrap_or_else(|| s.describe()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Phase timings for `--timings` (the clock is an effect, so it lives here, not in the core).
struct Phases {
    on: bool,
    last: std::cell::Cell<std::time::Instant>,
}

impl Phases {
    fn new(on: bool) -> Self {
        Self {
            on,
            last: std::cell::Cell::new(std::time::Instant::now()),
        }
    }

    fn lap(&self, what: &str) {
        if self.on {
            let now = std::time::Instant::now();
            eprintln!(
                "{what:<20} {:>8.3} s",
                (now - self.last.get()).as_secs_f64()
            );
            self.last.set(now);
        }
    }
}

/// Writes the full bundle and, when asked, the public one derived from it.
pub(super) fn write_bundles(
    full: &FullBundle,
    pool: &CommittedPool,
    out: &Path,
    public_out: Option<&Path>,
) -> Result<()> {
    // Built before anything is written, so a failure leaves no half-set of files.
    let public = public_out.map(|_| PublicBundle::from_full(full, pool));
    output::write_json_compact(out, full)?;
    if let (Some(path), Some(public)) = (public_out, &public) {
        output::write_json(path, public)?;
    }
    Ok(())
}

fn decode_hex(s: &str) -> Result<Vec<u8>> {
    hex::decode(s.trim()).map_err(|e| anyhow::anyhow!("not hex: {e}"))
}

pub(super) fn print_summary(b: &FullBundle) {
    println!("task {}  protocol {}", b.task_id, b.commitment.protocol);
    println!("commitment {}", hex::encode(b.commitment_hash));
    println!("seed       {}", hex::encode(b.result.seed));
    println!(
        "{:<18} {:>10} {:>8} {:>9}",
        "stratum", "population", "drawn", "ratio"
    );
    for s in &b.result.strata {
        if s.population == 0 {
            continue;
        }
        let label = crate::core::pool::stratum_label(&s.tier, s.cooled);
        let bp = (s.sample as u128 * 10_000 / s.population as u128) as u32;
        println!(
            "{label:<18} {:>10} {:>8} {:>9}",
            s.population,
            s.sample,
            format_ratio(bp)
        );
    }
    println!(
        "excluded {} objects (closed, out of scope, cooldown)",
        b.commitment.excluded.count
    );
    println!(
        "{} objects to inspect, {} inspectors each",
        b.result.final_assignments.len(),
        b.policy.inspectors.per_object
    );
    println!("result digest {}", hex::encode(b.result_digest));
}
