//! `double-random rfc3797`: an RFC 3797 selection from seed values and a names file, to check
//! IETF-style draws.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use crate::core::rfc3797;

#[derive(Args)]
pub struct Rfc3797Args {
    #[arg(long)]
    seeds: PathBuf,
    #[arg(long)]
    names: PathBuf,
    #[arg(long)]
    count: usize,
}

pub fn run(a: Rfc3797Args) -> Result<i32> {
    let Rfc3797Args {
        seeds,
        names,
        count,
    } = a;
    let read =
        |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let sources =
        rfc3797::parse_whole_seeds(&read(&seeds)?).with_context(|| seeds.display().to_string())?;
    let names_text = read(&names)?;
    let names_text = names_text.strip_prefix('\u{feff}').unwrap_or(&names_text);
    let names: Vec<&str> = names_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let key = rfc3797::key_string(&sources);
    let picks = rfc3797::select(&key, names.len(), count)?;
    let mut out = std::io::stdout().lock();
    for (pos, idx) in picks.iter().enumerate() {
        writeln!(out, "{}\t{}\t{}", pos + 1, idx, names[idx - 1])?;
    }
    Ok(0)
}
