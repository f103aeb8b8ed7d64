//! `double-random log verify`: what a watcher checks of the transparency log, offline from
//! saved files or against a daemon's URL (http).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::core::bundle::{self, PublicBundle};
use crate::core::checkpoint::{self, Checkpoint};
use crate::core::encode::Hash;
use crate::core::merkle;
use crate::service::tlog::{ConsistencyProof, InclusionProof, LogEntry, results_digest};

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

/// A plain HTTP GET (watchers point this at a daemon or a mirror).
fn fetch(base: &str, path: &str) -> Result<String> {
    use std::io::{Read, Write};
    let addr = base
        .strip_prefix("http://")
        .context("--url must be http://host:port (put a TLS proxy's plain side here)")?
        .trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).with_context(|| format!("connecting {addr}"))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).context("answer is not UTF-8")?;
    let (head, body) = text.split_once("\r\n\r\n").context("malformed answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!(
            "GET {path}: {} {body}",
            head.lines().next().unwrap_or_default()
        );
    }
    Ok(body.to_owned())
}

fn read(path: &Option<PathBuf>) -> Result<Option<String>> {
    path.as_ref()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .transpose()
}

fn hash(h: &str) -> Result<Hash> {
    hex::decode(h)
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{h:?} is not a 32-byte hex hash"))
}

fn key_bytes(k: &str) -> Result<[u8; 32]> {
    hash(k).context("--key must be 64 hex digits")
}

struct Checks {
    ok: Vec<String>,
}

impl Checks {
    fn ok(&mut self, what: String) {
        println!("ok   {what}");
        self.ok.push(what);
    }
}

/// Runs every check the arguments allow; prints them; the first failure is the error.
pub fn verify(a: &VerifyArgs) -> Result<i32> {
    let url = a.url.as_deref();
    let get = |file: &Option<PathBuf>, path: Option<String>| -> Result<Option<String>> {
        match (read(file)?, url, path) {
            (Some(t), _, _) => Ok(Some(t)),
            (None, Some(u), Some(p)) => fetch(u, &p).map(Some),
            _ => Ok(None),
        }
    };
    let key = match (&a.key, url) {
        (Some(k), _) => key_bytes(k)?,
        (None, Some(u)) => {
            let served: serde_json::Value = serde_json::from_str(&fetch(u, "/api/public/key")?)?;
            println!(
                "note the key is the one the daemon serves; pass --key to check it against the authority's"
            );
            key_bytes(served["public_key"].as_str().unwrap_or_default())?
        }
        (None, None) => bail!("give --key (or --url to use the key the daemon serves)"),
    };
    let note = get(&a.checkpoint, Some("/api/public/log/checkpoint".into()))?
        .context("give --checkpoint FILE or --url")?;
    if (a.bundle.is_some() || a.results.is_some()) && a.proof.is_none() && a.run.is_none() {
        bail!("--bundle is checked against a log entry: give --proof FILE (or --url and --run)");
    }
    let mut checks = Checks { ok: Vec::new() };
    let current = checkpoint::verify(&note, &key).map_err(anyhow::Error::msg)?;
    checks.ok(format!(
        "checkpoint of {:?}: {} leaves, root {}, signed by {}",
        current.origin,
        current.size,
        hex::encode(current.root),
        hex::encode(key)
    ));

    if let Some(old_note) = read(&a.previous)? {
        let old =
            checkpoint::verify(&old_note, &key).map_err(|e| anyhow::anyhow!("--previous: {e}"))?;
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
            _ => serde_json::from_str(
                &get(&a.consistency, Some(path))?
                    .context("--previous needs --consistency FILE (or --url)")?,
            )?,
        };
        let hashes: Vec<Hash> = proof.proof.iter().map(|h| hash(h)).collect::<Result<_>>()?;
        if proof.first != old.size || proof.second != current.size {
            bail!(
                "the consistency proof is from {} to {}, not {} to {}",
                proof.first,
                proof.second,
                old.size,
                current.size
            );
        }
        if old.origin != current.origin
            || !merkle::verify_consistency(
                old.size,
                current.size,
                &old.root,
                &current.root,
                &hashes,
            )
        {
            bail!(
                "FORK: the checkpoint of {} leaves does not extend the one of {} saved earlier: \
                 the log's history was rewritten",
                current.size,
                old.size
            );
        }
        checks.ok(format!(
            "extends the earlier checkpoint of {} leaves (consistency proof)",
            old.size
        ));
    }

    let proof_path = a
        .run
        .as_ref()
        .map(|r| format!("/api/public/runs/{r}/log-proof"));
    if let Some(text) = get(&a.proof, proof_path)? {
        let p: InclusionProof = serde_json::from_str(&text).context("malformed log proof")?;
        let signed = checkpoint::verify(&p.checkpoint, &key).map_err(anyhow::Error::msg)?;
        let hashes: Vec<Hash> = p.proof.iter().map(|h| hash(h)).collect::<Result<_>>()?;
        if p.size != signed.size
            || !merkle::verify_inclusion(
                p.index,
                p.size,
                &merkle::leaf_hash(p.entry.as_bytes()),
                &hashes,
                &signed.root,
            )
        {
            bail!(
                "the entry is not leaf {} of the checkpoint it came with",
                p.index
            );
        }
        let entry: LogEntry = serde_json::from_str(&p.entry).context("malformed log entry")?;
        checks.ok(format!(
            "entry {} ({} of run {}) is in the signed checkpoint of {} leaves",
            p.index, entry.event, entry.run, signed.size
        ));
        if signed.size == current.size && signed.root != current.root {
            bail!("FORK: two different checkpoints of {} leaves", signed.size);
        }
        let bundle_path = a
            .run
            .as_ref()
            .map(|r| format!("/api/public/runs/{r}/bundle"));
        if let Some(b) = get(&a.bundle, bundle_path)? {
            let b: PublicBundle = serde_json::from_str(&b).context("malformed public bundle")?;
            let report = bundle::verify_public(&b);
            if !report.valid {
                bail!("the public bundle does not verify: {:?}", report.mismatch);
            }
            let digest = hex::encode(b.result_digest);
            if entry.run != b.task_id
                || entry.commitment_hash != hex::encode(b.commitment_hash)
                || entry.result_digest.as_deref() != Some(digest.as_str())
            {
                bail!(
                    "the bundle (run {}, result {digest}) is not the one the log entry records \
                     (run {}, result {:?})",
                    b.task_id,
                    entry.run,
                    entry.result_digest
                );
            }
            checks.ok(format!(
                "the public bundle verifies and is the one logged for run {}",
                entry.run
            ));
        }
        let results_path = a
            .run
            .as_ref()
            .filter(|_| entry.event == "publish")
            .map(|r| format!("/api/public/runs/{r}/results"));
        if let Some(text) = get(&a.results, results_path)? {
            let published: serde_json::Value =
                serde_json::from_str(&text).context("malformed results")?;
            let digest = results_digest(&published["results"]);
            if entry.event != "publish" || entry.results_digest.as_deref() != Some(&digest) {
                bail!(
                    "the results given (digest {digest}) are not the ones logged when run {} was \
                     published",
                    entry.run
                );
            }
            checks.ok(format!(
                "the published results are the ones logged for run {}",
                entry.run
            ));
        }
    }

    let entries_text = match (read(&a.entries)?, url) {
        (Some(t), _) => Some(t),
        (None, Some(u)) if a.entries.is_none() => Some(fetch_all_entries(u, current.size)?),
        _ => None,
    };
    if let Some(text) = entries_text {
        check_entries(&text, &current)?;
        checks.ok(format!(
            "all {} entries make the checkpoint's root; one commitment per run",
            current.size
        ));
    }
    println!("VALID transparency log: {} checks passed", checks.ok.len());
    Ok(0)
}

fn fetch_all_entries(url: &str, size: u64) -> Result<String> {
    let mut all: Vec<serde_json::Value> = Vec::new();
    while (all.len() as u64) < size {
        let page: Vec<serde_json::Value> = serde_json::from_str(&fetch(
            url,
            &format!("/api/public/log/entries?start={}&end={size}", all.len()),
        )?)?;
        if page.is_empty() {
            bail!("the log served {} entries of {size}", all.len());
        }
        all.extend(page);
    }
    Ok(serde_json::to_string(&all)?)
}

/// The entries (as served: `[{index, entry}]`) must be the checkpoint's leaves, and no run may
/// have two commitments (a hidden second commitment would let an operator pick a draw).
fn check_entries(text: &str, c: &Checkpoint) -> Result<()> {
    let list: Vec<serde_json::Value> = serde_json::from_str(text).context("malformed entries")?;
    let mut leaves = Vec::with_capacity(list.len());
    let mut commits: BTreeMap<String, u64> = BTreeMap::new();
    for (i, e) in list.iter().take(c.size as usize).enumerate() {
        if e["index"].as_u64() != Some(i as u64) {
            bail!("entry {i} is missing or out of order");
        }
        let text = e["entry"].as_str().context("entry without text")?;
        leaves.push(merkle::leaf_hash(text.as_bytes()));
        let entry: LogEntry = serde_json::from_str(text).context("malformed log entry")?;
        if entry.event == "commit"
            && let Some(first) = commits.insert(entry.run.clone(), i as u64)
        {
            bail!(
                "run {} was committed twice (entries {first} and {i}): a second commitment",
                entry.run
            );
        }
    }
    if leaves.len() as u64 != c.size || merkle::root(&leaves) != c.root {
        bail!(
            "the {} entries given do not make the checkpoint's root of {} leaves",
            leaves.len(),
            c.size
        );
    }
    Ok(())
}
