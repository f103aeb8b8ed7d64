//! Enterprise access codes: what lets an enterprise, and nobody else, fetch its own proof (with
//! its stratum, which 分类结果不公开 keeps from the public). A code is an HMAC-SHA-256 of the
//! object id under one key per office, made once and kept in the store's sealed secret column,
//! so one code serves every run of that enterprise and the office can export them again for
//! its liaison channel (联络员) at any time. 20 symbols of Crockford's base 32 (100 bits),
//! typed in groups of four; compared in constant time; never logged (`Debug` hides them).

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::clock::stamped;
use super::documents::{create, draft, named, parse};
use super::snapshots::fresh_key;
use super::{Actor, Result};
use crate::core::model::ObjectId;
use crate::library::{Kind, Record};
use crate::store::{AuditDraft, DocKind, SecretBytes, Store, StoreError};
use crate::table::{self, Format};

/// Symbols without I, L, O, U: nothing to misread, and typed look-alikes are read as meant.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 20 symbols of 5 bits: 100 bits, far beyond what the rate limits let anyone try.
pub const SYMBOLS: usize = 20;
const GROUP: usize = 4;
/// The key's document (kind `key`).
const KEY_ID: &str = "access-codes";
const DOMAIN: &[u8] = b"double-random access code\0";

/// The office's key for access codes. `Debug` shows nothing of it.
pub struct AccessCodes([u8; 32]);

impl fmt::Debug for AccessCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessCodes(<redacted>)")
    }
}

/// One enterprise's code: `Display` gives it grouped (`7K3Q-…`), for the export only.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessCode([u8; SYMBOLS]);

impl fmt::Debug for AccessCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessCode(<redacted>)")
    }
}

impl fmt::Display for AccessCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, group) in self.0.chunks(GROUP).enumerate() {
            if n > 0 {
                f.write_str("-")?;
            }
            f.write_str(std::str::from_utf8(group).expect("ASCII symbols"))?;
        }
        Ok(())
    }
}

impl AccessCode {
    /// A code as typed: case, dashes and spaces do not matter, O reads as 0 and I, L as 1.
    /// `None` unless it is 20 symbols of the alphabet.
    pub fn parse(typed: &str) -> Option<Self> {
        let mut symbols = [0u8; SYMBOLS];
        let mut n = 0;
        for c in typed.chars() {
            let c = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || n == SYMBOLS {
                return None;
            }
            symbols[n] = c as u8;
            n += 1;
        }
        (n == SYMBOLS).then_some(Self(symbols))
    }
}

/// What the key's document says (the key itself is its sealed secret).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct KeyInfo {
    purpose: String,
    #[serde(with = "stamped")]
    created_at: DateTime<Utc>,
}

impl AccessCodes {
    /// The office's key, made on first use (one instance wins if several race).
    pub async fn load_or_create(store: &dyn Store, now: DateTime<Utc>) -> Result<Self> {
        loop {
            if let Some(d) = store.doc(DocKind::Key, KEY_ID).await? {
                parse::<KeyInfo>(&d)?;
                let key = d
                    .secret
                    .as_ref()
                    .and_then(|s| <[u8; 32]>::try_from(s.0.as_slice()).ok())
                    .ok_or_else(|| StoreError::Corrupt("access code key: bad key".into()))?;
                return Ok(Self(key));
            }
            let key = fresh_key()?;
            let info = KeyInfo {
                purpose: "HMAC-SHA-256 key of the enterprises' access codes".into(),
                created_at: now,
            };
            let mut doc = named(DocKind::Key, KEY_ID, "", &info);
            doc.secret = Some(SecretBytes(key.to_vec()));
            let actor = Actor {
                name: "double-random".into(),
                reason: "first use of access codes".into(),
            };
            let audit = draft(&actor, "key", KEY_ID, &[&doc]);
            match store.write_docs(vec![create(doc)], audit).await {
                Ok(_) => return Ok(Self(key)),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The code of object `id`: the first 100 bits of its HMAC, in base 32.
    pub fn code_for(&self, id: &ObjectId) -> AccessCode {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(DOMAIN);
        mac.update(id.as_str().as_bytes());
        let tag = mac.finalize().into_bytes();
        let bits = u128::from_be_bytes(tag[..16].try_into().expect("16 bytes")) >> 28;
        let mut symbols = [0u8; SYMBOLS];
        for (i, s) in symbols.iter_mut().enumerate() {
            *s = ALPHABET[((bits >> (5 * (SYMBOLS - 1 - i))) & 31) as usize];
        }
        AccessCode(symbols)
    }

    /// Whether `typed` is the code of `id`, compared in constant time.
    pub fn matches(&self, id: &ObjectId, typed: &str) -> bool {
        let Some(typed) = AccessCode::parse(typed) else {
            return false;
        };
        self.code_for(id).0.ct_eq(&typed.0).into()
    }
}

/// Extra library columns worth a letter's address, in this order: the liaison (联络员), the
/// phone, the address. Matched against the imported headers, case aside.
const MAIL_COLUMNS: [&[&str]; 3] = [
    &["联络员", "联系人", "liaison", "contact"],
    &["联络员电话", "联系电话", "电话", "phone", "telephone"],
    &[
        "地址",
        "住所",
        "经营场所",
        "住所（经营场所）",
        "联系地址",
        "通讯地址",
        "address",
    ],
];

/// Writes every object of the library (now) with its access code to `out` as CSV for a mail
/// merge, with a UTF-8 byte-order mark so that Excel reads the Chinese; the audit log records
/// who exported them, first. `name` is what errors call the output. Returns the count.
pub async fn export(
    store: &dyn Store,
    codes: &AccessCodes,
    actor: &Actor,
    out: &mut (dyn Write + Send),
    name: &str,
) -> Result<u64> {
    let mut objects = Vec::new();
    {
        let mut read = store.begin_read().await?;
        let head = read.head().await?;
        let mut batches = read.scan(Kind::Objects, head);
        while let Some(batch) = batches.try_next().await? {
            for data in batch.split('\n') {
                match Record::from_data(Kind::Objects, data) {
                    Ok(Record::Object(o)) => objects.push(o),
                    _ => return Err(StoreError::Corrupt(format!("objects {data:.60}")).into()),
                }
            }
        }
    }
    objects.sort_by(|a, b| a.id.cmp(&b.id));
    let extras: BTreeSet<&String> = objects.iter().flat_map(|o| o.attributes.keys()).collect();
    let mail: Vec<&String> = MAIL_COLUMNS
        .iter()
        .flat_map(|aliases| {
            extras
                .iter()
                .copied()
                .filter(|h| aliases.iter().any(|a| a.eq_ignore_ascii_case(h.trim())))
        })
        .collect();
    let mut headers = vec!["统一社会信用代码", "名称"];
    headers.extend(mail.iter().map(|h| h.as_str()));
    headers.push("访问码");
    store
        .write_docs(
            Vec::new(),
            AuditDraft {
                actor: actor.name.clone(),
                action: "access_codes_export".into(),
                subject: "objects".into(),
                reason: actor.reason.clone(),
                detail: serde_json::json!({ "objects": objects.len() }),
            },
        )
        .await?;
    out.write_all("\u{feff}".as_bytes())
        .map_err(|e| table::file_error(name, e.to_string()))?;
    let rows = objects.iter().map(|o| {
        let mut row = vec![o.id.to_string(), o.name.clone()];
        row.extend(
            mail.iter()
                .map(|h| o.attributes.get(*h).cloned().unwrap_or_default()),
        );
        row.push(codes.code_for(&o.id).to_string());
        row
    });
    table::write(out, name, Format::Csv, &headers, rows)?;
    Ok(objects.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_per_key_and_object_read_leniently_and_never_shown_by_debug() {
        let (a, b) = (AccessCodes([1; 32]), AccessCodes([2; 32]));
        let x = ObjectId::parse("91420700MA4KXXXX1X").unwrap();
        let y = ObjectId::parse("91420702000000000P").unwrap();
        let code = a.code_for(&x);
        assert_eq!(code, a.code_for(&x), "the same code on every export");
        assert_ne!(code, a.code_for(&y));
        assert_ne!(code, b.code_for(&x), "another office, another code");
        let shown = code.to_string();
        assert_eq!(shown.len(), SYMBOLS + SYMBOLS / GROUP - 1);
        assert!(a.matches(&x, &shown));
        let sloppy = shown.replace('-', " ").to_lowercase().replace('0', "o");
        assert!(a.matches(&x, &sloppy));
        assert!(!a.matches(&y, &shown));
        assert!(!b.matches(&x, &shown));
        assert!(!a.matches(&x, &shown[..shown.len() - 1]), "a symbol short");
        assert!(!a.matches(&x, &format!("{shown}0")), "a symbol too many");
        assert!(!a.matches(&x, &shown.replace(|c: char| c.is_ascii_digit(), "U")));
        assert!(!format!("{code:?}{a:?}").contains(&shown[..4]));
    }

    #[test]
    fn every_symbol_is_used_and_the_bits_are_the_macs() {
        let a = AccessCodes([9; 32]);
        let mut seen = BTreeSet::new();
        for n in 0..200 {
            let id = ObjectId::parse(&format!("T-{n}")).unwrap();
            seen.extend(a.code_for(&id).0);
        }
        assert_eq!(seen.len(), 32);
    }
}
