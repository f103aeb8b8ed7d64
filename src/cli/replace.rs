//! `double-random replace`: replay a draw with one more replacement request (补抽) and write
//! the new bundles.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::bundle_file::read_full;
use super::draw::write_bundles;
use crate::core::draw::ReplacementRequest;
use crate::core::model::{InspectorId, ObjectId};

#[derive(Args)]
pub struct ReplaceArgs {
    #[arg(long)]
    bundle: PathBuf,
    #[arg(long)]
    object: String,
    /// Recuse this inspector from the object instead of replacing the object.
    #[arg(long)]
    inspector: Option<String>,
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
        reason,
        out,
        public_out,
    } = a;
    let full = read_full(&bundle)?;
    let object = ObjectId::parse(&object).context("--object")?;
    let request = match inspector {
        None => ReplacementRequest::Object { object, reason },
        Some(i) => ReplacementRequest::Inspector {
            object,
            inspector: InspectorId::parse(&i).context("--inspector")?,
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
