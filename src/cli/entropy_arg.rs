//! The `--entropy` options of `draw`: what an officer types to announce each source and give
//! its value (draw-spec §7.6), turned into the structured sources, values and beacon records.
//!
//! * `witness:<event>=<numbers>` — numbers entered by the officer (0 bits: the authority
//!   chose the witnesses);
//! * `lottery:<file.toml>=<numbers>` — a public lottery draw described in a TOML file
//!   (`name`, `issue`, `draw_date`, `[[groups]]` with `count`, `min`, `max`, `ordered`,
//!   `distinct`) and its published numbers, groups separated by `+`;
//! * `drand:<beacon.json>` — a drand beacon record (§20.2): chain info and beacon, whose
//!   verified randomness is the value.

use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::core::beacon::BeaconRecord;
use crate::core::entropy::{EntropySource, LotteryGroup, UtcSecond};
use crate::library::fields;

/// One `--entropy` argument, read: its source, its value, and the beacon that delivers it.
pub struct Given {
    pub source: EntropySource,
    pub value: Vec<u8>,
    pub beacon: Option<BeaconRecord>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LotteryFile {
    name: String,
    issue: String,
    draw_date: toml::value::Datetime,
    groups: Vec<LotteryGroup>,
}

pub fn parse(arg: &str) -> Result<Given> {
    let (kind, rest) = arg
        .split_once(':')
        .with_context(|| format!("--entropy {arg:?}: expected witness:…, lottery:… or drand:…"))?;
    match kind {
        "witness" => {
            let (event, numbers) = split_value(arg, rest)?;
            let source = EntropySource::Witness {
                event: event.to_owned(),
                witnesses: 1,
            };
            source.validate().map_err(anyhow::Error::msg)?;
            let value = source
                .canonical_text(numbers)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("--entropy {arg:?}: the witness numbers"))?;
            Ok(given(source, value))
        }
        "lottery" => {
            let (file, numbers) = split_value(arg, rest)?;
            let source = read_lottery(Path::new(file))?;
            let value = source
                .canonical_text(numbers)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("--entropy {arg:?}: the drawn numbers"))?;
            Ok(given(source, value))
        }
        "drand" => {
            let path = Path::new(rest);
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let record: BeaconRecord = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{}: not a drand beacon record {{\"chain\": …, \"beacon\": …}}",
                    path.display()
                )
            })?;
            let randomness = record
                .chain
                .verify(&record.beacon)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{}: the beacon does not verify", path.display()))?;
            let round = record.beacon.round;
            Ok(Given {
                source: EntropySource::Drand {
                    chain: record.chain.hash(),
                    round,
                    at: UtcSecond(record.chain.round_time(round)),
                },
                value: randomness.to_vec(),
                beacon: Some(record),
            })
        }
        other => bail!("--entropy {arg:?}: unknown kind {other:?} (witness, lottery or drand)"),
    }
}

fn given(source: EntropySource, value: String) -> Given {
    Given {
        source,
        value: value.into_bytes(),
        beacon: None,
    }
}

/// `<what>=<numbers>`: the numbers follow the last `=`.
fn split_value<'a>(arg: &str, rest: &'a str) -> Result<(&'a str, &'a str)> {
    rest.rsplit_once('=')
        .with_context(|| format!("--entropy {arg:?}: give the value after '=' (…=3 7 12)"))
}

fn read_lottery(path: &Path) -> Result<EntropySource> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let f: LotteryFile = toml::from_str(&text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let (line, col) = fields::text_position(&text, at);
        let key = fields::toml_key_at(&text, at);
        anyhow::anyhow!(
            "{} line {line} column {col}{}: {}",
            path.display(),
            key.map(|k| format!(" field {k}")).unwrap_or_default(),
            e.message()
        )
    })?;
    let draw_date: NaiveDate = f
        .draw_date
        .to_string()
        .parse()
        .map_err(|_| anyhow::anyhow!("{} field draw_date: not a date", path.display()))?;
    let source = EntropySource::Lottery {
        name: f.name,
        issue: f.issue,
        draw_date,
        groups: f.groups,
    };
    source
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(source)
}
