//! drand beacons as public entropy (draw-spec §20): a chain's info and its hash, round times,
//! the line a commitment announces a round with, and offline BLS verification (`drand-verify`).
//! Nothing here fetches: the daemon brings beacons, the verifier re-checks them.

use drand_verify::{G1Pubkey, G2PubkeyRfc, Pubkey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bundle::HexBytes;
use super::encode::Hash;

/// The drand signature schemes supported (drand's `schemeID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scheme {
    /// The classic League of Entropy mainnet: G1 keys, each signature over the previous one.
    #[serde(rename = "pedersen-bls-chained")]
    PedersenBlsChained,
    #[serde(rename = "pedersen-bls-unchained")]
    PedersenBlsUnchained,
    /// quicknet: G2 keys, G1 signatures, RFC 9380 hashing to the curve.
    #[serde(rename = "bls-unchained-g1-rfc9380")]
    BlsUnchainedG1Rfc9380,
}

/// A chain's info as drand publishes it at `/{chain hash}/info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    pub public_key: HexBytes,
    /// Seconds between rounds.
    pub period: u32,
    /// Unix time of round 1.
    pub genesis_time: i64,
    pub group_hash: HexBytes,
    /// `default` for the classic mainnet.
    pub beacon_id: String,
    pub scheme: Scheme,
}

impl Chain {
    /// drand's chain hash: SHA-256(u32 period ‖ i64 genesis ‖ public key ‖ group hash
    /// [‖ beacon id unless `default`]), all big-endian. It binds the public key to the name
    /// everyone uses for the chain.
    pub fn hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(self.period.to_be_bytes());
        h.update(self.genesis_time.to_be_bytes());
        h.update(&self.public_key.0);
        h.update(&self.group_hash.0);
        if self.beacon_id != "default" && !self.beacon_id.is_empty() {
            h.update(self.beacon_id.as_bytes());
        }
        h.finalize().into()
    }

    /// Unix time at which `round` is produced (rounds start at 1).
    pub fn round_time(&self, round: u64) -> i64 {
        let offset = (round.max(1) - 1).saturating_mul(u64::from(self.period));
        self.genesis_time
            .saturating_add(i64::try_from(offset).unwrap_or(i64::MAX))
    }

    /// The first round produced at or after unix time `t`.
    pub fn first_round_from(&self, t: i64) -> u64 {
        if t <= self.genesis_time || self.period == 0 {
            return 1;
        }
        let since = (t - self.genesis_time) as u64;
        since.div_ceil(u64::from(self.period)) + 1
    }

    /// Checks `beacon`'s BLS signature against the chain's public key and returns its
    /// randomness, SHA-256(signature).
    pub fn verify(&self, beacon: &Beacon) -> Result<Hash, String> {
        let sig = &beacon.signature.0;
        let previous = beacon.previous_signature.as_ref().map(|p| &p.0[..]);
        let key = |e: drand_verify::InvalidPoint| format!("the chain's public key: {e}");
        let valid = match self.scheme {
            Scheme::PedersenBlsChained => {
                let previous = previous.ok_or("a chained beacon needs its previous_signature")?;
                G1Pubkey::from_variable(&self.public_key.0)
                    .map_err(key)?
                    .verify(beacon.round, previous, sig)
            }
            Scheme::PedersenBlsUnchained | Scheme::BlsUnchainedG1Rfc9380 => {
                if previous.is_some_and(|p| !p.is_empty()) {
                    return Err("an unchained beacon has no previous_signature".into());
                }
                if self.scheme == Scheme::PedersenBlsUnchained {
                    G1Pubkey::from_variable(&self.public_key.0)
                        .map_err(key)?
                        .verify(beacon.round, b"", sig)
                } else {
                    G2PubkeyRfc::from_variable(&self.public_key.0)
                        .map_err(key)?
                        .verify(beacon.round, b"", sig)
                }
            }
        };
        match valid {
            Ok(true) => Ok(Sha256::digest(sig).into()),
            Ok(false) => Err(format!(
                "the signature is not the chain's signature of round {}",
                beacon.round
            )),
            Err(e) => Err(format!("the signature is malformed: {e}")),
        }
    }
}

/// One round's beacon as a relay serves it (without the randomness, which is derived).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Beacon {
    pub round: u64,
    pub signature: HexBytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_signature: Option<HexBytes>,
}

/// What a bundle carries for an announced round: the chain's info (so the verifier needs no
/// relay) and the beacon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeaconRecord {
    pub chain: Chain,
    pub beacon: Beacon,
}

/// A round announced with a commitment: one line of its `entropy_source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub chain_hash: Hash,
    pub round: u64,
    /// Unix time the round is produced.
    pub at: i64,
}

const PREFIX: &str = "drand: chain ";

impl Announcement {
    pub fn for_round(chain: &Chain, round: u64) -> Self {
        Self {
            chain_hash: chain.hash(),
            round,
            at: chain.round_time(round),
        }
    }

    /// `drand: chain <hex> round <n> at <UTC time>`.
    pub fn line(&self) -> String {
        format!(
            "{PREFIX}{} round {} at {}",
            hex::encode(self.chain_hash),
            self.round,
            utc(self.at)
        )
    }

    /// `None` for a line that announces no drand round; an error for a malformed one, and for
    /// a line that only looks like one (draw-spec §20.1).
    pub fn parse(line: &str) -> Option<Result<Self, String>> {
        let Some(rest) = line.strip_prefix(PREFIX) else {
            return looks_like_drand(line).then(|| {
                Err(format!(
                    "{line:?} looks like a drand announcement but is not `{PREFIX}<64 hex> round <n> at <time>`"
                ))
            });
        };
        let bad = || format!("{line:?} is not `{PREFIX}<64 hex> round <n> at <time>`");
        let parse = || -> Result<Self, String> {
            let mut words = rest.split(' ');
            let (Some(hash), Some("round"), Some(round), Some("at"), Some(at), None) = (
                words.next(),
                words.next(),
                words.next(),
                words.next(),
                words.next(),
                words.next(),
            ) else {
                return Err(bad());
            };
            let chain_hash = hex::decode(hash)
                .ok()
                .and_then(|h| Hash::try_from(h).ok())
                .filter(|_| hash == hash.to_ascii_lowercase())
                .ok_or_else(bad)?;
            let round = round
                .parse::<u64>()
                .ok()
                .filter(|r| *r > 0 && round == r.to_string())
                .ok_or_else(bad)?;
            let at = chrono::DateTime::parse_from_rfc3339(at)
                .map_err(|_| bad())?
                .timestamp();
            let a = Self {
                chain_hash,
                round,
                at,
            };
            // One spelling per announcement, so the committed text is canonical.
            if a.line() != line {
                return Err(bad());
            }
            Ok(a)
        };
        Some(parse())
    }
}

/// A line that a reader would take for a drand announcement: after leading white space, the
/// word `drand` in any case (full-width letters too), then anything but a letter or digit.
/// Such a line must be exactly an announcement, or it would contribute nothing silently.
pub fn looks_like_drand(line: &str) -> bool {
    // Full-width ASCII (U+FF01–U+FF5E) folded to ASCII, so `ｄｒａｎｄ：` is caught too.
    let folded: String = line
        .trim_start()
        .chars()
        .map(|c| match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            c => c,
        })
        .take(6)
        .collect();
    let mut chars = folded.chars();
    let word: String = chars.by_ref().take(5).collect();
    word.eq_ignore_ascii_case("drand") && chars.next().is_none_or(|c| !c.is_alphanumeric())
}

fn utc(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// The beacons a draw's entropy takes: line `i` of `entropy_source` that announces a round
/// makes `entropy[i]` that round's verified randomness, and every beacon is announced.
/// Returns a description per checked beacon.
pub fn check(
    entropy_source: &str,
    entropy: &[Vec<u8>],
    beacons: &[BeaconRecord],
) -> Result<Vec<String>, String> {
    let lines: Vec<&str> = entropy_source.split('\n').collect();
    if let Some(k) = (1..beacons.len()).find(|&k| beacons[..k].contains(&beacons[k])) {
        return Err(format!("beacon record {} repeats an earlier one", k + 1));
    }
    let mut used = vec![false; beacons.len()];
    let mut checked = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(a) = Announcement::parse(line) else {
            continue;
        };
        let a = a.map_err(|e| format!("entropy_source line {}: {e}", i + 1))?;
        if lines.len() != entropy.len() {
            return Err(format!(
                "entropy_source announces {} value(s), one per line, but the draw has {}",
                lines.len(),
                entropy.len()
            ));
        }
        let (k, record) = beacons
            .iter()
            .enumerate()
            .find(|(_, b)| b.beacon.round == a.round && b.chain.hash() == a.chain_hash)
            .ok_or_else(|| {
                format!(
                    "no beacon for the announced round {} of chain {}",
                    a.round,
                    hex::encode(a.chain_hash)
                )
            })?;
        used[k] = true;
        if record.chain.round_time(a.round) != a.at {
            return Err(format!(
                "round {} of the chain is produced at {}, not at the announced {}",
                a.round,
                utc(record.chain.round_time(a.round)),
                utc(a.at)
            ));
        }
        let randomness = record
            .chain
            .verify(&record.beacon)
            .map_err(|e| format!("round {}: {e}", a.round))?;
        if entropy[i] != randomness {
            return Err(format!(
                "entropy value {} is not the randomness of round {} ({})",
                i + 1,
                a.round,
                hex::encode(randomness)
            ));
        }
        checked.push(format!(
            "drand round {} of chain {} (produced {}): BLS signature valid, randomness is entropy value {}",
            a.round,
            hex::encode(a.chain_hash),
            utc(a.at),
            i + 1
        ));
    }
    if let Some(k) = used.iter().position(|u| !u) {
        return Err(format!(
            "beacon of round {} is not announced in entropy_source",
            beacons[k].beacon.round
        ));
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn testdata() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/drand-beacons.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn chain(v: &Value) -> Chain {
        serde_json::from_value(serde_json::json!({
            "public_key": v["public_key"],
            "period": v["period"],
            "genesis_time": v["genesis_time"],
            "group_hash": v["groupHash"],
            "beacon_id": v["metadata"]["beaconID"],
            "scheme": v["schemeID"],
        }))
        .unwrap()
    }

    fn beacon(v: &Value) -> Beacon {
        let prev = v["previous_signature"]
            .as_str()
            .map(|p| HexBytes(hex::decode(p).unwrap()));
        Beacon {
            round: v["round"].as_u64().unwrap(),
            signature: HexBytes(hex::decode(v["signature"].as_str().unwrap()).unwrap()),
            previous_signature: prev,
        }
    }

    #[test]
    fn chain_hashes_match_drand() {
        let d = testdata();
        for (name, c) in d["chains"].as_object().unwrap() {
            assert_eq!(
                hex::encode(chain(c).hash()),
                c["hash"].as_str().unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn every_real_beacon_verifies_and_no_other_round_does() {
        let d = testdata();
        let beacons = d["beacons"].as_array().unwrap();
        assert_eq!(beacons.len(), 8);
        for b in beacons {
            let c = chain(&d["chains"][b["chain"].as_str().unwrap()]);
            let real = beacon(b);
            let randomness = c.verify(&real).unwrap();
            assert_eq!(hex::encode(randomness), b["randomness"].as_str().unwrap());
            let next = Beacon {
                round: real.round + 1,
                ..real.clone()
            };
            assert!(c.verify(&next).is_err(), "round {} + 1", real.round);
            let mut flipped = real.clone();
            flipped.signature.0[10] ^= 1;
            assert!(c.verify(&flipped).is_err(), "round {} flipped", real.round);
        }
    }

    #[test]
    fn negative_vectors_fail() {
        // noislabs/drand-verify: round 72785's signature fails as round 321, with another
        // previous signature, or as round 1's signature.
        let d = testdata();
        let c = chain(&d["chains"]["mainnet_default"]);
        let find = |r: u64| {
            beacon(
                d["beacons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|b| b["chain"] == "mainnet_default" && b["round"] == r)
                    .unwrap(),
            )
        };
        let real = find(72785);
        assert!(c.verify(&real).is_ok());
        let wrong_round = Beacon {
            round: 321,
            ..real.clone()
        };
        assert!(c.verify(&wrong_round).is_err());
        let mut wrong_previous = real.clone();
        let p = wrong_previous.previous_signature.as_mut().unwrap();
        assert_eq!(p.0[0], 0xa6);
        p.0[0] = 0x6a;
        assert!(c.verify(&wrong_previous).is_err());
        let other = Beacon {
            signature: find(1).signature,
            ..real.clone()
        };
        assert!(c.verify(&other).is_err());
        let unchained = Beacon {
            previous_signature: None,
            ..real
        };
        assert!(c.verify(&unchained).is_err());
    }

    #[test]
    fn round_times_and_announcements() {
        let d = testdata();
        let q = chain(&d["chains"]["quicknet"]);
        assert_eq!(q.round_time(1), 1692803367);
        assert_eq!(q.round_time(123), 1692803367 + 122 * 3);
        assert_eq!(q.first_round_from(q.round_time(123)), 123);
        assert_eq!(q.first_round_from(q.round_time(123) - 1), 123);
        assert_eq!(q.first_round_from(q.round_time(123) + 1), 124);
        assert_eq!(q.first_round_from(0), 1);
        let a = Announcement::for_round(&q, 123);
        let line = a.line();
        assert_eq!(
            line,
            "drand: chain 52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971 \
             round 123 at 2023-08-23T15:15:33Z"
        );
        assert_eq!(Announcement::parse(&line), Some(Ok(a)));
        assert_eq!(Announcement::parse("witness: lottery"), None);
        assert_eq!(Announcement::parse("drandom words"), None);
        // Look-alikes of an announcement are refused, not read as "no drand round".
        for lookalike in [
            format!(" {line}"),
            line.replacen("drand:", "Drand:", 1),
            line.replacen("drand:", "drand：", 1),
            line.replacen("drand:", "ｄｒａｎｄ:", 1),
            line.replacen("drand: ", "drand ", 1),
        ] {
            assert!(
                matches!(Announcement::parse(&lookalike), Some(Err(_))),
                "{lookalike}"
            );
        }
        for bad in [
            line.replace("round 123", "round 0123"),
            line.replace("52db", "52DB"),
            line.replace(" at ", "  at "),
            format!("{line} extra"),
            line.replace("15:15:33Z", "15:15:33+00:00"),
        ] {
            assert!(matches!(Announcement::parse(&bad), Some(Err(_))), "{bad}");
        }
    }

    #[test]
    fn check_binds_announcement_beacon_and_entropy() {
        let d = testdata();
        let q = chain(&d["chains"]["quicknet"]);
        let b = beacon(&d["beacons"].as_array().unwrap()[6]);
        assert_eq!(b.round, 123);
        let record = BeaconRecord {
            chain: q.clone(),
            beacon: b.clone(),
        };
        let randomness = q.verify(&b).unwrap().to_vec();
        let source = format!(
            "witness: lottery\n{}",
            Announcement::for_round(&q, 123).line()
        );
        let entropy = vec![b"1 2 3/".to_vec(), randomness.clone()];
        assert_eq!(
            check(&source, &entropy, std::slice::from_ref(&record))
                .unwrap()
                .len(),
            1
        );
        // Entropy that is not the round's randomness, a missing or extra beacon, another
        // round, or a key that is not the announced chain's: all refused.
        let swapped = vec![randomness.clone(), b"1 2 3/".to_vec()];
        assert!(check(&source, &swapped, std::slice::from_ref(&record)).is_err());
        assert!(check(&source, &entropy, &[]).is_err());
        assert!(
            check(
                "witness: lottery",
                &entropy[..1],
                std::slice::from_ref(&record)
            )
            .is_err()
        );
        let other_round = source.replace("round 123", "round 124");
        assert!(check(&other_round, &entropy, std::slice::from_ref(&record)).is_err());
        let mut other_key = record.clone();
        other_key.chain.public_key = chain(&d["chains"]["mainnet_default"]).public_key;
        assert!(check(&source, &entropy, &[other_key]).is_err());
    }
}
