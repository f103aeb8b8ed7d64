//! `double-random log verify`: what a watcher checks of the transparency log, offline from
//! saved files or against a daemon's URL (http). The checks are `client::log`; this is the
//! command's options and its printing.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::client::log::{Step, Watch, watch};

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The publication key (hex, as the authority publishes it). Without it the key the daemon
    /// serves is used, which only proves the daemon agrees with itself.
    #[arg(long)]
    pub key: Option<String>,
    /// A daemon to fetch from (http://host:port); the files below are then optional.
    #[arg(long)]
    pub url: Option<String>,
    /// The signed checkpoint (GET /api/public/log/checkpoint).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// A checkpoint saved earlier: the new one must extend it.
    #[arg(long)]
    pub previous: Option<PathBuf>,
    /// The consistency proof from --previous to --checkpoint (GET /api/public/log/consistency).
    #[arg(long)]
    pub consistency: Option<PathBuf>,
    /// A run's entry with its inclusion proof (GET /api/public/runs/{id}/log-proof).
    #[arg(long)]
    pub proof: Option<PathBuf>,
    /// The public bundle the proven entry must describe.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// With --url: fetch this run's log proof and bundle.
    #[arg(long)]
    pub run: Option<String>,
    /// The published results (GET /api/public/runs/{id}/results): the proven entry must be the
    /// run's publication, recording exactly these.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Every entry (GET /api/public/log/entries, all pages as one JSON list): they must make
    /// the checkpoint's root, with one commitment per run.
    #[arg(long)]
    pub entries: Option<PathBuf>,
}

impl VerifyArgs {
    fn watch(self) -> Watch {
        Watch {
            key: self.key,
            url: self.url,
            checkpoint: self.checkpoint,
            previous: self.previous,
            consistency: self.consistency,
            proof: self.proof,
            bundle: self.bundle,
            run: self.run,
            results: self.results,
            entries: self.entries,
        }
    }
}

/// `log verify`: exit 0 when every check passes; the first failure is printed and exits 1.
pub fn run(a: VerifyArgs) -> Result<i32> {
    match verify(a) {
        Ok(code) => Ok(code),
        Err(e) => {
            println!("FAIL {e:#}");
            Ok(1)
        }
    }
}

/// Runs every check the arguments allow; prints them; the first failure is the error.
fn verify(a: VerifyArgs) -> Result<i32> {
    let passed = watch(&a.watch(), &mut |step| match step {
        Step::Note(n) => println!("note {n}"),
        Step::Passed(what) => println!("ok   {what}"),
    })?;
    println!("VALID transparency log: {passed} checks passed");
    Ok(0)
}
