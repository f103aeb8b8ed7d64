//! `double-random replace`: replay a draw with one more replacement request (补抽) and write
//! the new bundles.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::bundle_file::read_full;
use super::draw::write_bundles;
use crate::core::draw::ReplacementRequest;
use crate::core::model::{InspectorId, ObjectId};
use crate::core::replacement::{ObjectReason, RecusalReason};

#[derive(Args)]
pub struct ReplaceArgs {
    #[arg(long)]
    bundle: PathBuf,
    #[arg(long)]
    object: String,
    /// Recuse this inspector from the object instead of replacing the object.
    #[arg(long)]
    inspector: Option<String>,
    /// The category (v2, required): for an object deregistered, revoked, cancelled, moved_out,
    /// unreachable, closed_or_liquidating, inspected_in_joint_task, other; for a recusal
    /// declared_conflict, kinship, prior_involvement, other.
    #[arg(long)]
    reason_code: Option<String>,
    #[arg(long)]
    reason: String,
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    public_out: Option<PathBuf>,
}

pub fn run(a: ReplaceArgs) -> Result<i32> {
    let ReplaceArgs {
        bundle,
        object,
        inspector,
        reason_code,
        reason,
        out,
        public_out,
    } = a;
    let full = read_full(&bundle)?;
    let object = ObjectId::parse(&object).context("--object")?;
    let code = reason_code.as_deref();
    let request = match inspector {
        None => ReplacementRequest::Object {
            object,
            reason_code: code
                .map(ObjectReason::parse)
                .transpose()
                .map_err(anyhow::Error::msg)
                .context("--reason-code")?,
            reason,
        },
        Some(i) => ReplacementRequest::Inspector {
            object,
            inspector: InspectorId::parse(&i).context("--inspector")?,
            reason_code: code
                .map(RecusalReason::parse)
                .transpose()
                .map_err(anyhow::Error::msg)
                .context("--reason-code")?,
            reason,
        },
    };
    let (next, pool) = full.with_replacements(&[request])?;
    let record = next.result.replacements.last().expect("one appended");
    println!(
        "replacement: {} (team {})",
        record.replacement,
        join(&record.inspectors)
    );
    write_bundles(&next, &pool, &out, public_out.as_deref())?;
    Ok(0)
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
