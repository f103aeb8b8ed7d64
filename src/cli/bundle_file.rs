//! Reading the double-random JSON files (bundles, proofs, signatures): the format they
//! declare, and a streaming parse (a full bundle can be gigabytes).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::core::bundle::{self, FullBundle};

/// The `format` of a double-random JSON file. Our writers put it first, so the opening bytes
/// usually tell; otherwise the whole document is scanned for it.
pub(super) fn read_format(path: &Path) -> Result<String> {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(512);
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    file.take(512).read_to_end(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    let quick = text.trim_start().strip_prefix('{').and_then(|rest| {
        let rest = rest
            .trim_start()
            .strip_prefix("\"format\"")?
            .trim_start()
            .strip_prefix(':')?;
        let rest = rest.trim_start().strip_prefix('"')?;
        let end = rest.find('"')?;
        let value = &rest[..end];
        (!value.contains('\\')).then(|| value.to_owned())
    });
    if let Some(f) = quick {
        return Ok(f);
    }
    #[derive(serde::Deserialize)]
    struct Head {
        format: String,
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let head: Head = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a double-random JSON file", path.display()))?;
    Ok(head.format)
}

/// Parses a whole file as `T`, streaming (a full bundle can be gigabytes).
pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_reader(std::io::BufReader::with_capacity(1 << 20, file))
        .with_context(|| format!("{}: malformed {what}", path.display()))
}

pub(super) fn read_full(path: &Path) -> Result<FullBundle> {
    let format = read_format(path)?;
    if !matches!(bundle::Artefact::parse(&format), Some((bundle::Artefact::Full, _))) {
        bail!(
            "{}: expected a full bundle ({}), found {format}",
            path.display(),
            bundle::Artefact::Full.format(crate::core::Protocol::CURRENT)
        );
    }
    read_json(path, "full bundle")
}
