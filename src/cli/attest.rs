//! Auditor attestations on the command line (draw-spec §21): `auditor-key` makes an auditor's
//! Ed25519 key (a private file, never printed), `verify FULL --attest KEY` signs an
//! attestation when the full bundle verifies, `verify PUBLIC --attestations SRC` checks and
//! lists them. The statement and its checks are `core::attestation`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use ed25519_dalek::SigningKey;

use super::bundle_file::read_json;
use super::output::AtomicFile;
use crate::core::attestation::{self, Attestation, AttestationError, Subject};
use crate::core::bundle::Report;
use crate::core::encode::{Hash, hex32};

#[derive(Args)]
pub struct AuditorKeyArgs {
    /// The key file: created (mode 0600, refused if it exists), or read with --show.
    file: PathBuf,
    /// Print the public key of an existing key file instead of making one.
    #[arg(long)]
    show: bool,
}

/// `auditor-key`: makes the key file and prints only its public half (what the office's admin
/// registers).
pub fn key_command(a: AuditorKeyArgs) -> Result<i32> {
    let key = if a.show {
        load_key(&a.file)?
    } else {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("OS randomness: {e}"))?;
        let mut f = create_private(&a.file)?;
        writeln!(f, "{}", hex::encode(seed))
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", a.file.display()))?;
        SigningKey::from_bytes(&seed)
    };
    println!("{}", hex::encode(key.verifying_key().as_bytes()));
    Ok(0)
}

fn create_private(path: &Path) -> Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
        .with_context(|| format!("creating the key file {}", path.display()))
}

/// An auditor key file: 64 hex digits (the Ed25519 seed) and a newline.
fn load_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    let seed: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| {
            format!(
                "{}: line 1: not an auditor key (64 hex digits; make one with `double-random auditor-key`)",
                path.display()
            )
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// What an attestation binds, read from a bundle file whose report is `report`.
fn subject(file: &Path, report: &Report) -> Result<Option<Subject>> {
    #[derive(serde::Deserialize)]
    struct Head {
        task_id: String,
        #[serde(with = "hex32")]
        commitment_hash: Hash,
    }
    let Some(digest) = report.result_digest.as_deref().filter(|_| report.valid) else {
        return Ok(None);
    };
    let head: Head = read_json(file, "bundle")?;
    Ok(Some(Subject {
        run: head.task_id,
        commitment_hash: head.commitment_hash,
        result_digest: attestation_hash(digest)?,
    }))
}

fn attestation_hash(hex: &str) -> Result<Hash> {
    hex::decode(hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("a result digest that is not 32 bytes of hex")
}

/// `verify FULL --attest KEY`: signs only a full bundle that verified. Writes the attestation
/// to `out` (default: beside the bundle, `<file>.attestation.json`).
pub fn attest(
    report: &mut Report,
    file: &Path,
    key: &Path,
    out: Option<PathBuf>,
    name: Option<String>,
) -> Result<()> {
    let key = load_key(key)?;
    let Some(subject) = subject(file, report)? else {
        report
            .limits
            .push("no attestation signed: the full bundle does not verify".into());
        return Ok(());
    };
    let a = attestation::sign(&key, &subject, name);
    let out = out.unwrap_or_else(|| {
        let mut p = file.as_os_str().to_owned();
        p.push(".attestation.json");
        PathBuf::from(p)
    });
    let mut f = AtomicFile::create(&out)?;
    serde_json::to_writer_pretty(&mut f, &a)?;
    writeln!(f)?;
    f.commit()?;
    report.checks.push(format!(
        "attestation signed by auditor key {} over run, commitment and result: {}",
        a.auditor_key,
        out.display()
    ));
    Ok(())
}

/// A file, or an http URL fetched (the daemon's public answers).
fn fetch(src: &str) -> Result<String> {
    if let Some(rest) = src.strip_prefix("http://") {
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        return crate::client::http::get(&format!("http://{host}"), path)
            .with_context(|| format!("fetching {src}"));
    }
    std::fs::read_to_string(src).with_context(|| format!("reading {src}"))
}

/// The attestations in a text: one, a list, or the daemon's answer `{"attestations": [...]}`.
fn parse_attestations(src: &str, text: &str) -> Result<Vec<Attestation>> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Given {
        One(Attestation),
        List(Vec<Attestation>),
        Served { attestations: Vec<Attestation> },
    }
    Ok(
        match serde_json::from_str(text).with_context(|| {
            format!("{src}: not an attestation, a list of them, or the daemon's answer")
        })? {
            Given::One(a) => vec![a],
            Given::List(l) | Given::Served { attestations: l } => l,
        },
    )
}

/// The registered auditors' keys in a text: the daemon's `GET /api/public/auditors` answer
/// (`[{"name", "key", "revoked_at"?}]`) or such a list kept by the reader. Revoked keys are
/// left out.
fn parse_auditors(src: &str, text: &str) -> Result<Vec<(String, String)>> {
    #[derive(serde::Deserialize)]
    struct Auditor {
        name: String,
        key: String,
        #[serde(default)]
        revoked_at: Option<String>,
    }
    let list: Vec<Auditor> = serde_json::from_str(text)
        .with_context(|| format!("{src}: not a list of auditors ({{name, key}})"))?;
    list.into_iter()
        .filter(|a| a.revoked_at.is_none())
        .enumerate()
        .map(|(i, a)| {
            let key = attestation::parse_key(&a.key)
                .with_context(|| format!("{src}: auditor {} ({}): key", i + 1, a.name))?;
            Ok((key, a.name))
        })
        .collect()
}

/// `verify PUBLIC --attestations SRC [--auditors SRC]`: each attestation must verify and be
/// for this bundle, and with `auditors` be by a registered, non-revoked key; any that is not
/// fails the report. Says plainly when there is none.
pub fn check(
    report: &mut Report,
    file: &Path,
    attestations: Option<&str>,
    auditors: Option<&str>,
) -> Result<()> {
    let Some(subject) = subject(file, report)? else {
        return Ok(());
    };
    let list = match attestations {
        Some(src) => parse_attestations(src, &fetch(src)?)?,
        None => Vec::new(),
    };
    let registry = auditors
        .map(|src| parse_auditors(src, &fetch(src)?))
        .transpose()?;
    let mut counted = 0;
    for (i, a) in list.iter().enumerate() {
        let field = format!("attestations[{i}]");
        let problem = match a.verify_for(&subject) {
            // An honest attestation of this run before a replacement changed its result.
            Err(AttestationError::Other { got, .. })
                if got.run == subject.run && got.commitment_hash == subject.commitment_hash =>
            {
                report.limits.push(format!(
                    "attestation by key {} is of an earlier result of this run (before a \
                     replacement): not counted",
                    a.auditor_key
                ));
                continue;
            }
            Err(e) => Some(e.to_string()),
            Ok(()) => match &registry {
                Some(r) if !r.iter().any(|(k, _)| k.eq_ignore_ascii_case(&a.auditor_key)) => {
                    Some(format!(
                        "key {} is not a registered auditor (or was revoked)",
                        a.auditor_key
                    ))
                }
                _ => None,
            },
        };
        if let Some(found) = problem {
            report.valid = false;
            report.mismatch.get_or_insert(crate::core::bundle::Mismatch {
                field,
                expected: "an attestation of this bundle by a registered auditor".into(),
                found,
            });
            continue;
        }
        counted += 1;
        let who = match &registry {
            Some(r) => {
                let name = r
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&a.auditor_key))
                    .map(|(_, n)| n.as_str())
                    .unwrap_or_default();
                format!("registered auditor {name:?}")
            }
            None => format!(
                "{:?} (registration not checked: give --auditors)",
                a.name.as_deref().unwrap_or("unnamed")
            ),
        };
        report.checks.push(format!(
            "attestation by {who}, key {}: it checked this full bundle (run, commitment, result)",
            a.auditor_key
        ));
    }
    if counted == 0 {
        report.limits.push(
            "no auditor attestation: nobody independent has checked that the drawn objects are \
             the smallest tickets and that tiers and exclusions are right"
                .into(),
        );
    }
    Ok(())
}

/// Fails early on option combinations that cannot mean anything.
pub fn usage(format: &str, attest: bool, attestations: bool) -> Result<()> {
    use crate::core::bundle::Artefact;
    let kind = Artefact::parse(format).map(|(a, _)| a);
    if attest && kind != Some(Artefact::Full) {
        bail!("--attest signs a full bundle only, not {format}");
    }
    if attestations && !matches!(kind, Some(Artefact::Full | Artefact::Public)) {
        bail!("--attestations are checked against a bundle, not {format}");
    }
    Ok(())
}
