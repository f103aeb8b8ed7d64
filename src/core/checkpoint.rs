//! Transparency-log checkpoints (C2SP tlog-checkpoint) signed as C2SP signed notes with
//! Ed25519: the text a watcher saves, and the checks it runs. A checkpoint also carries the
//! time it was signed, as a C2SP tlog-cosignature/v1 line by the same key (draw-spec §19): it
//! shows when the log first held a commitment. Pure: signing takes the key and the time.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::encode::Hash;

/// What a checkpoint states: this log, of this size, has this root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint body: origin, size and base64 root, each line ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    fn parse_body(text: &str) -> Result<Self, String> {
        let mut lines = text.split_terminator('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or("no origin line")?;
        let size = lines
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("the second line is not a tree size")?;
        let root: Hash = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| r.try_into().ok())
            .ok_or("the third line is not a base64 SHA-256 root")?;
        Ok(Self {
            origin: origin.into(),
            size,
            root,
        })
    }
}

/// The checkpoint a signed note states, its signatures unchecked (a reader without the key
/// still checks a proof against the root; the root is only as good as the key).
pub fn parse_unverified(note: &str) -> Result<Checkpoint, String> {
    let (body, _) = note
        .split_once("\n\n")
        .ok_or("not a signed note: no blank line before the signatures")?;
    Checkpoint::parse_body(&format!("{body}\n"))
}

/// The signed-note key id of an Ed25519 key: SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[..4].
pub fn key_id(name: &str, key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n\x01");
    h.update(key);
    let d: Hash = h.finalize().into();
    [d[0], d[1], d[2], d[3]]
}

/// The note: the checkpoint body, a blank line, and one signature line by `key` named after
/// the log's origin.
pub fn sign(c: &Checkpoint, key: &SigningKey) -> String {
    let body = c.body();
    let public = key.verifying_key().to_bytes();
    let mut sig = key_id(&c.origin, &public).to_vec();
    sig.extend_from_slice(&key.sign(body.as_bytes()).to_bytes());
    format!("{body}\n\u{2014} {} {}\n", c.origin, B64.encode(sig))
}

/// The key id of a C2SP tlog-cosignature/v1 key: SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[..4].
pub fn cosignature_key_id(name: &str, key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n\x04");
    h.update(key);
    let d: Hash = h.finalize().into();
    [d[0], d[1], d[2], d[3]]
}

/// What a timestamped cosignature signs: `cosignature/v1\ntime <t>\n` then the body.
fn cosigned(time: u64, body: &str) -> String {
    format!("cosignature/v1\ntime {time}\n{body}")
}

/// `sign`, plus a cosignature line by the same key stating `time` (Unix seconds): the note
/// verifies for any C2SP verifier of the log's key, and `verify_timed` reads the time.
pub fn sign_timed(c: &Checkpoint, key: &SigningKey, time: u64) -> String {
    let note = sign(c, key);
    let public = key.verifying_key().to_bytes();
    let mut sig = cosignature_key_id(&c.origin, &public).to_vec();
    sig.extend_from_slice(&time.to_be_bytes());
    sig.extend_from_slice(&key.sign(cosigned(time, &c.body()).as_bytes()).to_bytes());
    format!("{note}\u{2014} {} {}\n", c.origin, B64.encode(sig))
}

/// `verify`, and the time of the key's cosignature line, if the note has one (checkpoints
/// signed before it existed have none).
pub fn verify_timed(note: &str, key: &[u8; 32]) -> Result<(Checkpoint, Option<u64>), String> {
    let c = verify(note, key)?;
    let body = c.body();
    let want = cosignature_key_id(&c.origin, key);
    let vk = VerifyingKey::from_bytes(key).map_err(|e| format!("public key: {e}"))?;
    let sigs = note.split_once("\n\n").map(|(_, s)| s).unwrap_or_default();
    for line in sigs.split_terminator('\n') {
        let Some((name, sig)) = line
            .strip_prefix("\u{2014} ")
            .and_then(|r| r.split_once(' '))
        else {
            continue;
        };
        let Ok(bytes) = B64.decode(sig) else { continue };
        if name != c.origin || bytes.len() != 76 || bytes[..4] != want {
            continue;
        }
        let time = u64::from_be_bytes(bytes[4..12].try_into().expect("8 bytes"));
        let s = ed25519_dalek::Signature::from_bytes(&bytes[12..].try_into().expect("64 bytes"));
        return vk
            .verify(cosigned(time, &body).as_bytes(), &s)
            .map(|()| (c, Some(time)))
            .map_err(|_| "the checkpoint's timestamp signature does not verify".to_string());
    }
    Ok((c, None))
}

/// Parses a signed checkpoint and checks the signature of the key named after its origin,
/// which must be `key`. Returns the checkpoint.
pub fn verify(note: &str, key: &[u8; 32]) -> Result<Checkpoint, String> {
    let (body, sigs) = note
        .split_once("\n\n")
        .map(|(b, s)| (format!("{b}\n"), s))
        .ok_or("not a signed note: no blank line before the signatures")?;
    let c = Checkpoint::parse_body(&body)?;
    let vk = VerifyingKey::from_bytes(key).map_err(|e| format!("public key: {e}"))?;
    let want = key_id(&c.origin, key);
    for line in sigs.split_terminator('\n') {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(format!("malformed signature line {line:?}"));
        };
        let Some((name, sig)) = rest.split_once(' ') else {
            return Err(format!("malformed signature line {line:?}"));
        };
        let Ok(bytes) = B64.decode(sig) else {
            return Err(format!("signature of {name} is not base64"));
        };
        if name != c.origin || bytes.len() != 68 || bytes[..4] != want {
            continue;
        }
        let s = ed25519_dalek::Signature::from_bytes(&bytes[4..].try_into().expect("64 bytes"));
        return vk
            .verify(body.as_bytes(), &s)
            .map(|()| c)
            .map_err(|_| "the checkpoint's signature does not verify".to_string());
    }
    Err(format!(
        "no signature by key {} for origin {:?}",
        hex::encode(key),
        c.origin
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_checkpoint_verifies_and_any_change_fails() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let public = key.verifying_key().to_bytes();
        let c = Checkpoint {
            origin: "example.org/log".into(),
            size: 12,
            root: [7; 32],
        };
        let note = sign(&c, &key);
        assert!(note.starts_with("example.org/log\n12\nBwcH"), "{note}");
        assert_eq!(verify(&note, &public), Ok(c.clone()));
        assert!(verify(&note.replace("\n12\n", "\n13\n"), &public).is_err());
        assert!(verify(&note, &[1; 32]).is_err());
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(verify(&sign(&c, &other), &public).is_err());
    }

    #[test]
    fn a_timed_checkpoint_states_its_time_and_a_changed_time_fails() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let public = key.verifying_key().to_bytes();
        let c = Checkpoint {
            origin: "example.org/log".into(),
            size: 3,
            root: [1; 32],
        };
        let note = sign_timed(&c, &key, 1_764_000_000);
        // Still a plain signed note for a verifier that knows no timestamps.
        assert_eq!(verify(&note, &public), Ok(c.clone()));
        assert_eq!(
            verify_timed(&note, &public),
            Ok((c.clone(), Some(1_764_000_000)))
        );
        assert_eq!(
            verify_timed(&sign(&c, &key), &public),
            Ok((c.clone(), None))
        );
        // The time moved back a day, bytes re-encoded: the cosignature no longer verifies.
        let line = note.lines().last().unwrap();
        let mut bytes = B64.decode(line.rsplit(' ').next().unwrap()).unwrap();
        bytes[4..12].copy_from_slice(&(1_764_000_000u64 - 86_400).to_be_bytes());
        let forged = note.replace(
            line,
            &format!("\u{2014} example.org/log {}", B64.encode(bytes)),
        );
        assert!(verify_timed(&forged, &public).is_err());
    }
}
