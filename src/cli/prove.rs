//! `double-random prove`: an enterprise's proof of its outcome, made from the full bundle.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::bundle_file::read_full;
use super::output;
use crate::core::bundle;
use crate::core::model::ObjectId;
use crate::core::pool::CommittedPool;

#[derive(Args)]
pub struct ProveArgs {
    #[arg(long)]
    bundle: PathBuf,
    #[arg(long)]
    id: String,
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: ProveArgs) -> Result<i32> {
    let ProveArgs { bundle, id, out } = a;
    let full = read_full(&bundle)?;
    let id = ObjectId::parse(&id).context("--id")?;
    let pool = CommittedPool::build(
        &full.snapshot,
        &full.policy,
        &full.salt_key.0,
        full.commitment.protocol,
    )?;
    let proof = bundle::prove(&full, &pool, &id);
    output::write_json(&out, &proof)?;
    println!("{id}: {:?} — {}", proof.outcome, proof.explanation);
    Ok(0)
}
