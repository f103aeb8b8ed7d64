//! `double-random verify`: recompute what a full bundle, public bundle or enterprise proof
//! allows, with the daemon's signature over a bundle when given; print the report.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;

use super::attest;
use super::bundle_file::{read_format, read_json};
use crate::core::bundle::{self, Artefact, EnterpriseProof, PublicBundle, Report};
use crate::core::commitment_time;
use crate::core::signature::{Signature, bundle_statement, check_signature};

#[derive(Args)]
pub struct VerifyArgs {
    file: PathBuf,
    /// With an enterprise proof: the public bundle to check it against.
    #[arg(long)]
    public: Option<PathBuf>,
    /// With a bundle: the daemon's signature of it (GET /api/public/runs/{id}/signature).
    #[arg(long)]
    signature: Option<PathBuf>,
    /// The publication key (hex; GET /api/public/key, compared out of band): the signature
    /// must be by it, and a v2 public bundle's commitment_log checkpoint and its time are
    /// checked with it (without it they are not: a key in the bundle would be the forger's).
    #[arg(long)]
    key: Option<String>,
    /// With a full bundle: sign an attestation with this auditor key file (made by
    /// `auditor-key`) if, and only if, every check passes.
    #[arg(long)]
    attest: Option<PathBuf>,
    /// Where the attestation goes (default: the bundle's name + `.attestation.json`).
    #[arg(long, requires = "attest")]
    attestation_out: Option<PathBuf>,
    /// The auditor's name written in the attestation (not signed; the registry names keys).
    #[arg(long, requires = "attest")]
    auditor_name: Option<String>,
    /// With a public bundle: attestations to check and list, a file or an http URL
    /// (GET /api/public/runs/{id}/attestations).
    #[arg(long)]
    attestations: Option<String>,
    /// The registered auditors the attestations' keys must be in, a file or an http URL
    /// (GET /api/public/auditors).
    #[arg(long, requires = "attestations")]
    auditors: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn run(a: VerifyArgs) -> Result<i32> {
    let VerifyArgs {
        file,
        public,
        signature,
        key,
        attest,
        attestation_out,
        auditor_name,
        attestations,
        auditors,
        json,
    } = a;
    let format = read_format(&file)?;
    attest::usage(&format, attest.is_some(), attestations.is_some())?;
    let mut report = verify_file(&file, public.as_deref())?;
    if let Some(sig) = signature {
        check_bundle_signature(&mut report, &file, &sig, key.as_deref())?;
    }
    let public_bundle = matches!(Artefact::parse(&format), Some((Artefact::Public, _)));
    if public_bundle {
        check_commitment_time(&mut report, &file, key.as_deref())?;
    }
    if public_bundle || attestations.is_some() {
        attest::check(
            &mut report,
            &file,
            attestations.as_deref(),
            auditors.as_deref(),
        )?;
    }
    if let Some(k) = attest {
        attest::attest(&mut report, &file, &k, attestation_out, auditor_name)?;
    }
    print_report(&report, json)?;
    Ok(if report.valid { 0 } else { 1 })
}

pub(super) fn verify_file(path: &Path, public: Option<&Path>) -> Result<Report> {
    let format = read_format(path)?;
    // The format names the version; each verification then checks it against the commitment's.
    Ok(match Artefact::parse(&format).map(|(a, _)| a) {
        Some(Artefact::Full) => bundle::verify_full(&read_json(path, "full bundle")?),
        Some(Artefact::Public) => bundle::verify_public(&read_json(path, "public bundle")?),
        Some(Artefact::Proof) => {
            let proof: EnterpriseProof = read_json(path, "enterprise proof")?;
            let public = public
                .map(|p| read_json::<PublicBundle>(p, "public bundle"))
                .transpose()?;
            bundle::verify_proof(&proof, public.as_ref())
        }
        None => bail!("{}: unknown format {format:?}", path.display()),
    })
}

/// Adds the check of a public bundle's commitment_log (draw-spec §22) to `report`: the time
/// the commitment was first logged, against the entropy's publication.
fn check_commitment_time(report: &mut Report, file: &Path, key: Option<&str>) -> Result<()> {
    if !report.valid {
        return Ok(());
    }
    let key: Option<[u8; 32]> = key
        .map(|k| {
            hex::decode(k.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow::anyhow!("--key: not 32 bytes of hex"))
        })
        .transpose()?;
    let b: PublicBundle = read_json(file, "public bundle")?;
    match commitment_time::check(&b, key.as_ref()) {
        Err(m) => {
            report.valid = false;
            report.mismatch = Some(m);
        }
        Ok(None) => report.limits.push(
            "when the commitment was made: the bundle carries no commitment_log (a CLI draw, \
             or v1), so nothing shows it preceded the entropy"
                .into(),
        ),
        Ok(Some(t)) => {
            let entropy = t.entropy_at.map_or_else(
                || "not stated (witness values carry no time)".to_owned(),
                commitment_time::utc,
            );
            match t.committed_by {
                Some(c) => report.checks.push(format!(
                    "commitment logged as leaf {} in a checkpoint signed by the publication key: \
                     committed at {}, entropy published at {entropy}",
                    t.index,
                    commitment_time::utc(c)
                )),
                None => {
                    report.checks.push(format!(
                        "commitment logged as leaf {} of the checkpoint it came with",
                        t.index
                    ));
                    report.limits.push(
                        "the checkpoint's signature and time (give --key, the publication key)"
                            .into(),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Adds the check of the daemon's signature over a bundle to `report`.
fn check_bundle_signature(
    report: &mut Report,
    file: &Path,
    sig: &Path,
    key: Option<&str>,
) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Signed {
        task_id: String,
        #[serde(with = "crate::core::encode::hex32")]
        commitment_hash: crate::core::encode::Hash,
        result: Replacements,
    }
    #[derive(serde::Deserialize)]
    struct Replacements {
        replacements: Vec<serde::de::IgnoredAny>,
    }
    let signature: Signature = read_json(sig, "signature")?;
    let b: Signed = read_json(file, "bundle")?;
    let Some(digest) = report.result_digest.clone().filter(|_| report.valid) else {
        return Ok(());
    };
    let expected = bundle_statement(
        &b.task_id,
        &hex::encode(b.commitment_hash),
        &digest,
        b.result.replacements.len(),
    );
    let problem = match check_signature(&signature, key) {
        Err(e) => Some(e),
        Ok(()) if signature.message != expected => Some(format!(
            "the signed statement is not this bundle's: signed {:?}",
            signature.message
        )),
        Ok(()) => None,
    };
    match problem {
        None => report.checks.push(format!(
            "signature by publication key {} over run, commitment and result",
            signature.public_key
        )),
        Some(found) => {
            report.valid = false;
            report.mismatch = Some(bundle::Mismatch {
                field: "signature".into(),
                expected: expected.escape_debug().to_string(),
                found,
            });
        }
    }
    Ok(())
}

fn print_report(r: &Report, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    for c in &r.checks {
        println!("ok   {c}");
    }
    match &r.mismatch {
        None => println!("VALID {}: every check passed", r.kind),
        Some(m) => {
            println!("FAIL {}: first mismatch at {}", r.kind, m.field);
            println!("     expected: {}", m.expected);
            println!("     found:    {}", m.found);
        }
    }
    for l in &r.limits {
        println!("not checked: {l}");
    }
    if let Some(bits) = r.entropy_bits {
        println!("entropy: {bits} bits of min-entropy");
    }
    for w in &r.warnings {
        println!("WARNING: {w}");
    }
    if let Some(p) = r.protocol {
        println!("checked as {p}");
    }
    if let Some(o) = r.outcome {
        println!("outcome: {o:?}");
    }
    if let Some(d) = &r.result_digest {
        println!("result digest: {d}");
    }
    Ok(())
}
