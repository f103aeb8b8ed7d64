//! `double-random verify`: recompute what a full bundle, public bundle or enterprise proof
//! allows, with the daemon's signature over a bundle when given; print the report.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;

use super::bundle_file::{read_format, read_json};
use crate::core::bundle::{self, Artefact, EnterpriseProof, PublicBundle, Report};
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
    /// The publication key the signature must be by (hex; GET /api/public/key).
    #[arg(long, requires = "signature")]
    key: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn run(a: VerifyArgs) -> Result<i32> {
    let VerifyArgs {
        file,
        public,
        signature,
        key,
        json,
    } = a;
    let mut report = verify_file(&file, public.as_deref())?;
    if let Some(sig) = signature {
        check_bundle_signature(&mut report, &file, &sig, key.as_deref())?;
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
