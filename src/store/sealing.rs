//! The `secret` column sealed at rest: salt keys, draw secrets before their draw and the
//! publication key's seed are stored encrypted (XChaCha20-Poly1305) under a key kept outside
//! the database, so a copied database file or a dump holds none of them. Each sealed value is
//! bound to its document (kind and id as associated data): moved to another row, it does not
//! open.

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::{DocKind, Result, StoreError};

/// Starts every sealed value; a value without it is one written before sealing existed.
const MAGIC: &[u8; 4] = b"drs1";
const NONCE: usize = 24;

/// The key that seals the `secret` column. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl SealingKey {
    /// The key as 64 hex digits (`DOUBLE_RANDOM_SEALING_KEY`).
    pub fn from_hex(text: &str) -> Result<Self> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut key).map_err(|_| {
            StoreError::Url("the sealing key must be 64 hexadecimal digits".into())
        })?;
        Ok(Self(key))
    }

    /// The key of the database at `url`, from the first of: `DOUBLE_RANDOM_SEALING_KEY` (64
    /// hex digits), `key_file` when not empty (`[database] key_file`, `DOUBLE_RANDOM_KEY_FILE`),
    /// a systemd credential named `double-random.key` (`LoadCredential=`), and the default
    /// file: beside an SQLite database as `<file>.key`, `data/double-random.key` for
    /// PostgreSQL. A key file is created on first use.
    pub fn for_database(url: &str, key_file: &str) -> Result<Self> {
        if let Ok(hex) = std::env::var("DOUBLE_RANDOM_SEALING_KEY") {
            return Self::from_hex(&hex);
        }
        if !key_file.is_empty() {
            return Self::load_or_create(Path::new(key_file));
        }
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let credential = Path::new(&dir).join("double-random.key");
            if credential.exists() {
                return Self::load_or_create(&credential);
            }
        }
        let default = match url.strip_prefix("sqlite://").or(url.strip_prefix("sqlite:")) {
            Some(file) => {
                let file = file.split('?').next().unwrap_or(file);
                format!("{file}.key")
            }
            None => "data/double-random.key".into(),
        };
        Self::load_or_create(Path::new(&default))
    }

    /// Reads the key file, or creates it (mode 0600, 64 hex digits) when it does not exist.
    /// A key file others can read is refused: it opens every secret of the database. Several
    /// processes starting at once agree on one key: each writes its own file and links it into
    /// place, which only the first link does.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        let shown = path.display();
        loop {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    check_private(path, "the sealing key file")?;
                    return Self::from_hex(&text).map_err(|_| {
                        StoreError::Url(format!("{shown}: not 64 hexadecimal digits"))
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if let Some(key) = Self::create(path)? {
                        return Ok(key);
                    }
                }
                Err(e) => return Err(StoreError::Url(format!("cannot read {shown}: {e}"))),
            }
        }
    }

    /// A new key in a new file at `path`; `None` when another process made one first.
    fn create(path: &Path) -> Result<Option<Self>> {
        let shown = path.display();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_dir(dir)?;
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| StoreError::Url(format!("no OS randomness: {e}")))?;
        let mut own = path.as_os_str().to_owned();
        own.push(format!(".{}.new", hex::encode(&key[..8])));
        let own = std::path::PathBuf::from(own);
        let written = private_file(&own).and_then(|mut file| {
            file.write_all(hex::encode(key).as_bytes())?;
            file.sync_all()
        });
        let linked = written.and_then(|()| std::fs::hard_link(&own, path));
        let _ = std::fs::remove_file(&own);
        match linked {
            Ok(()) => Ok(Some(Self(key))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(StoreError::Url(format!("cannot create {shown}: {e}"))),
        }
    }

    /// `plain` sealed for document (`kind`, `id`), under a fresh random nonce.
    pub(crate) fn seal(&self, kind: DocKind, id: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).map_err(|e| StoreError::Url(format!("no OS randomness: {e}")))?;
        let aad = associated(kind, id);
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: &aad })
            .map_err(|_| StoreError::Corrupt("cannot seal a secret".into()))?;
        Ok([MAGIC.as_slice(), &nonce, &sealed].concat())
    }

    /// The plain value of a stored `secret` column. A value stored before sealing existed
    /// (no prefix) is returned as it is; `is_sealed` tells them apart for the upgrade.
    pub(crate) fn open(&self, kind: DocKind, id: &str, stored: Vec<u8>) -> Result<Vec<u8>> {
        if !is_sealed(&stored) {
            return Ok(stored);
        }
        let (nonce, sealed) = stored[MAGIC.len()..].split_at(NONCE);
        let aad = associated(kind, id);
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
            .map_err(|_| {
                StoreError::Corrupt(format!(
                    "the secret of {} {id} does not open with this sealing key: is it the key \
                     file this database was created with?",
                    kind.as_str()
                ))
            })
    }

    /// Of the stored `secret` columns (kind, id, value), the ones written before sealing
    /// existed, sealed now; every sealed one must open (a wrong key is refused here).
    pub(crate) fn reseal(
        &self,
        rows: Vec<(String, String, Vec<u8>)>,
    ) -> Result<Vec<(String, String, Vec<u8>)>> {
        let mut resealed = Vec::new();
        for (kind_name, id, stored) in rows {
            let kind = doc_kind(&kind_name)?;
            let sealed = is_sealed(&stored);
            let plain = self.open(kind, &id, stored)?;
            if !sealed {
                resealed.push((kind_name, id.clone(), self.seal(kind, &id, &plain)?));
            }
        }
        Ok(resealed)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

/// The kind named in a `documents` row.
pub(crate) fn doc_kind(name: &str) -> Result<DocKind> {
    serde_json::from_value(name.into())
        .map_err(|_| StoreError::Corrupt(format!("unknown document kind {name:?}")))
}

/// Whether a stored `secret` value is sealed (prefix, nonce and at least a tag).
fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(MAGIC) && stored.len() >= MAGIC.len() + NONCE + 16
}

fn associated(kind: DocKind, id: &str) -> Vec<u8> {
    [kind.as_str().as_bytes(), b"\0", id.as_bytes()].concat()
}

/// Creates `dir` (and its parents) with mode 0700 if missing.
pub(crate) fn private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| StoreError::Url(format!("cannot create {}: {e}", dir.display())))
}

/// A new file only its owner can read and write.
pub(crate) fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Refuses a file that group or others may read or write (if it exists).
pub(crate) fn check_private(path: &Path, what: &str) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(StoreError::Url(format!(
                    "{what} {} has mode {mode:04o}: group or others may read it, and it holds \
                     secrets; run `chmod 600 {}` (and check who copied it)",
                    path.display(),
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_for_its_document() {
        let key = SealingKey([1; 32]);
        let sealed = key.seal(DocKind::Run, "T-1", b"the draw secret").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(15).any(|w| w == b"the draw secret"));
        assert_eq!(
            key.open(DocKind::Run, "T-1", sealed.clone()).unwrap(),
            b"the draw secret"
        );
        assert!(key.open(DocKind::Run, "T-2", sealed.clone()).is_err());
        assert!(key.open(DocKind::Snapshot, "T-1", sealed.clone()).is_err());
        let other = SealingKey([2; 32]);
        assert!(other.open(DocKind::Run, "T-1", sealed).is_err());
        assert!(!format!("{key:?}").contains("0101"));
    }

    #[test]
    fn secrets_stored_before_sealing_are_sealed_and_a_wrong_key_is_refused() {
        let key = SealingKey([1; 32]);
        let sealed = key.seal(DocKind::Key, "publication", &[9; 32]).unwrap();
        let rows = vec![
            ("snapshot".to_string(), "abc".to_string(), vec![7u8; 32]),
            ("key".to_string(), "publication".to_string(), sealed.clone()),
        ];
        let resealed = key.reseal(rows.clone()).unwrap();
        assert_eq!(resealed.len(), 1, "only the clear one is rewritten");
        let (kind, id, value) = &resealed[0];
        assert_eq!((kind.as_str(), id.as_str()), ("snapshot", "abc"));
        assert_eq!(
            key.open(DocKind::Snapshot, "abc", value.clone()).unwrap(),
            vec![7u8; 32]
        );
        let e = SealingKey([2; 32]).reseal(rows).unwrap_err().to_string();
        assert!(e.contains("does not open with this sealing key"), "{e}");
    }

    #[test]
    fn instances_starting_at_once_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/db.key");
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let starts: Vec<_> = (0..8)
                .map(|_| s.spawn(|| SealingKey::load_or_create(&path).unwrap().0))
                .collect();
            starts.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]));
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no partly written file is left behind");
    }

    #[test]
    fn the_key_file_is_created_private_and_a_shared_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/db.key");
        let key = SealingKey::load_or_create(&path).unwrap();
        let again = SealingKey::load_or_create(&path).unwrap();
        assert_eq!(key.0, again.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = SealingKey::load_or_create(&path).unwrap_err().to_string();
            assert!(e.contains("mode 0644"), "{e}");
        }
    }
}
