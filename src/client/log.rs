//! What a watcher checks of the transparency log, from saved files or a daemon's URL: the
//! signed checkpoint, consistency with one saved earlier, a run's entry with its bundle and
//! published results, and every entry. Each check is `core::tlog`; this module finds the texts
//! and runs the checks in order.

use std::path::{Path, PathBuf};

use super::{ClientError, Result, http};
use crate::core::checkpoint;
use crate::core::tlog::{self, ConsistencyProof};

/// Where each text comes from: a file when given, else the daemon at `url` when one is given.
#[derive(Clone, Debug, Default)]
pub struct Watch {
    /// The publication key (hex); without it, the key the daemon serves.
    pub key: Option<String>,
    pub url: Option<String>,
    pub checkpoint: Option<PathBuf>,
    /// A checkpoint saved earlier, which the current one must extend.
    pub previous: Option<PathBuf>,
    pub consistency: Option<PathBuf>,
    pub proof: Option<PathBuf>,
    pub bundle: Option<PathBuf>,
    /// With `url`: the run whose log proof, bundle and results are fetched.
    pub run: Option<String>,
    pub results: Option<PathBuf>,
    pub entries: Option<PathBuf>,
}

/// What the watcher tells as it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A caveat about what the checks can establish.
    Note(&'static str),
    /// A check that passed.
    Passed(String),
}

fn read(path: &Option<PathBuf>) -> Result<Option<String>> {
    path.as_deref()
        .map(|p: &Path| {
            std::fs::read_to_string(p).map_err(|error| ClientError::Read {
                path: p.display().to_string(),
                error,
            })
        })
        .transpose()
}

fn key_bytes(k: &str) -> Result<[u8; 32]> {
    tlog::parse_hash(k).map_err(ClientError::Key)
}

/// Counts the checks that passed as it tells them.
struct Teller<'a> {
    tell: &'a mut dyn FnMut(Step),
    passed: usize,
}

impl Teller<'_> {
    fn passed(&mut self, what: String) {
        self.passed += 1;
        (self.tell)(Step::Passed(what));
    }
}

/// Runs every check the inputs allow, telling each as it passes; the first failure is the
/// error. Returns how many checks passed.
pub fn watch(w: &Watch, tell: &mut dyn FnMut(Step)) -> Result<usize> {
    let url = w.url.as_deref();
    let get = |file: &Option<PathBuf>, path: Option<String>| -> Result<Option<String>> {
        match (read(file)?, url, path) {
            (Some(t), _, _) => Ok(Some(t)),
            (None, Some(u), Some(p)) => http::get(u, &p).map(Some),
            _ => Ok(None),
        }
    };
    let mut t = Teller { tell, passed: 0 };
    let key = match (&w.key, url) {
        (Some(k), _) => key_bytes(k)?,
        (None, Some(u)) => {
            let served: serde_json::Value =
                serde_json::from_str(&http::get(u, "/api/public/key")?)?;
            (t.tell)(Step::Note(
                "the key is the one the daemon serves; pass --key to check it against the authority's",
            ));
            key_bytes(served["public_key"].as_str().unwrap_or_default())?
        }
        (None, None) => {
            return Err(ClientError::Usage(
                "give --key (or --url to use the key the daemon serves)",
            ));
        }
    };
    let note = get(&w.checkpoint, Some("/api/public/log/checkpoint".into()))?
        .ok_or(ClientError::Usage("give --checkpoint FILE or --url"))?;
    if (w.bundle.is_some() || w.results.is_some()) && w.proof.is_none() && w.run.is_none() {
        return Err(ClientError::Usage(
            "--bundle is checked against a log entry: give --proof FILE (or --url and --run)",
        ));
    }
    let current = checkpoint::verify(&note, &key).map_err(tlog::LogError::Checkpoint)?;
    t.passed(format!(
        "checkpoint of {:?}: {} leaves, root {}, signed by {}",
        current.origin,
        current.size,
        hex::encode(current.root),
        hex::encode(key)
    ));

    if let Some(old_note) = read(&w.previous)? {
        let old = checkpoint::verify(&old_note, &key).map_err(ClientError::Previous)?;
        let path = format!(
            "/api/public/log/consistency?first={}&second={}",
            old.size, current.size
        );
        let proof: ConsistencyProof = match old.size {
            // Nothing to prove from an empty log, or between equal sizes.
            n if n == 0 || n == current.size => ConsistencyProof {
                first: n,
                second: current.size,
                proof: Vec::new(),
            },
            _ => serde_json::from_str(&get(&w.consistency, Some(path))?.ok_or(
                ClientError::Usage("--previous needs --consistency FILE (or --url)"),
            )?)?,
        };
        tlog::verify_consistency(&old, &current, &proof)?;
        t.passed(format!(
            "extends the earlier checkpoint of {} leaves (consistency proof)",
            old.size
        ));
    }

    let run_path = |what: &str| {
        w.run
            .as_ref()
            .map(|r| format!("/api/public/runs/{r}/{what}"))
    };
    if let Some(text) = get(&w.proof, run_path("log-proof"))? {
        let tlog::Included {
            checkpoint: signed,
            index,
            entry,
        } = tlog::verify_inclusion(&text, &key)?;
        t.passed(format!(
            "entry {index} ({} of run {}) is in the signed checkpoint of {} leaves",
            entry.event, entry.run, signed.size
        ));
        tlog::same_history(&signed, &current)?;
        if let Some(b) = get(&w.bundle, run_path("bundle"))? {
            tlog::check_bundle(&entry, &b)?;
            t.passed(format!(
                "the public bundle verifies and is the one logged for run {}",
                entry.run
            ));
        }
        let results_path = run_path("results").filter(|_| entry.event == "publish");
        if let Some(text) = get(&w.results, results_path)? {
            tlog::check_results(&entry, &text)?;
            t.passed(format!(
                "the published results are the ones logged for run {}",
                entry.run
            ));
        }
    }

    let entries_text = match (read(&w.entries)?, url) {
        (Some(t), _) => Some(t),
        (None, Some(u)) if w.entries.is_none() => Some(all_entries(u, current.size)?),
        _ => None,
    };
    if let Some(text) = entries_text {
        tlog::check_entries(&text, &current)?;
        t.passed(format!(
            "all {} entries make the checkpoint's root; one commitment per run",
            current.size
        ));
    }
    Ok(t.passed)
}

/// Every entry of a log of `size` leaves, page by page, as one JSON list.
fn all_entries(url: &str, size: u64) -> Result<String> {
    let mut all: Vec<serde_json::Value> = Vec::new();
    while (all.len() as u64) < size {
        let page: Vec<serde_json::Value> = serde_json::from_str(&http::get(
            url,
            &format!("/api/public/log/entries?start={}&end={size}", all.len()),
        )?)?;
        if page.is_empty() {
            return Err(ClientError::ShortLog {
                served: all.len(),
                size,
            });
        }
        all.extend(page);
    }
    Ok(serde_json::to_string(&all)?)
}
