//! `audit verify`: the chain of entries, and every stored version and document against the
//! entry that wrote it. Edits that go around the database's triggers are found here.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use serde::Serialize;

use super::Result;
use crate::library::Kind;
use crate::store::audit::{BatchDigest, GENESIS, doc_hash};
use crate::store::{DocKind, Seq, Store};

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct AuditReport {
    pub entries: u64,
    pub imports: u64,
    pub versions: u64,
    pub documents: u64,
    /// Head of the chain: position and hex hash (publish it to detect truncation later).
    #[schema(value_type = i64)]
    pub head_seq: Seq,
    pub head_hash: String,
    /// Every inconsistency found; empty when the log is intact.
    pub problems: Vec<String>,
}

const MAX_PROBLEMS: usize = 100;

impl AuditReport {
    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }
}

struct ImportEntry {
    seq: Seq,
    created: String,
    closed: String,
}

pub async fn verify(store: &dyn Store) -> Result<AuditReport> {
    let mut report = AuditReport {
        head_hash: hex::encode(GENESIS),
        ..Default::default()
    };
    let mut prev = (0, GENESIS);
    let mut imports: BTreeMap<Kind, Vec<ImportEntry>> = BTreeMap::new();
    // Latest audited hash of each document.
    let mut documents: BTreeMap<(String, String), (String, Seq)> = BTreeMap::new();
    loop {
        let page = store.audit(prev.0 + 1, 1000).await?;
        if page.is_empty() {
            break;
        }
        for e in page {
            report.entries += 1;
            if e.seq != prev.0 + 1 {
                report.problem(format!(
                    "entries {} to {} are missing",
                    prev.0 + 1,
                    e.seq - 1
                ));
            }
            if e.prev_hash != prev.1 {
                report.problem(format!(
                    "entry {}: does not follow entry {} (previous hash differs)",
                    e.seq, prev.0
                ));
            }
            if e.compute_hash() != e.hash {
                report.problem(format!(
                    "entry {}: its content does not match its hash (edited)",
                    e.seq
                ));
            }
            let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
            if e.action == "import" {
                match (
                    Kind::parse(&e.subject),
                    detail["created_digest"].as_str(),
                    detail["closed_digest"].as_str(),
                ) {
                    (Some(kind), Some(c), Some(d)) => {
                        imports.entry(kind).or_default().push(ImportEntry {
                            seq: e.seq,
                            created: c.into(),
                            closed: d.into(),
                        })
                    }
                    _ => report.problem(format!("entry {}: import entry without digests", e.seq)),
                }
            }
            if let Some(docs) = detail["documents"].as_array() {
                for d in docs {
                    let key = (
                        d["kind"].as_str().unwrap_or_default().to_owned(),
                        d["id"].as_str().unwrap_or_default().to_owned(),
                    );
                    documents.insert(
                        key,
                        (d["hash"].as_str().unwrap_or_default().to_owned(), e.seq),
                    );
                }
            }
            prev = (e.seq, e.hash);
        }
    }
    report.head_seq = prev.0;
    report.head_hash = hex::encode(prev.1);

    for kind in Kind::ALL {
        let entries = imports.remove(&kind).unwrap_or_default();
        for entry in &entries {
            report.imports += 1;
            let mut digest = BatchDigest::default();
            let mut versions = store.created(kind, entry.seq);
            while let Some(v) = versions.try_next().await? {
                report.versions += 1;
                digest.created(v.src_line, &v.key, &v.data);
            }
            drop(versions);
            for (key, from) in store.closed(kind, entry.seq).await? {
                digest.closed(&key, from);
            }
            let (created, closed) = digest.finish();
            if created != entry.created {
                report.problem(format!(
                    "entry {} ({} import): the versions it created were edited, added or deleted",
                    entry.seq,
                    kind.as_str()
                ));
            }
            if closed != entry.closed {
                report.problem(format!(
                    "entry {} ({} import): the versions it closed were changed",
                    entry.seq,
                    kind.as_str()
                ));
            }
        }
        let seqs: Vec<Seq> = entries.iter().map(|e| e.seq).collect();
        for (key, from) in store.orphan_versions(kind, &seqs).await? {
            report.problem(format!(
                "{} {key} (version from {from}): written by no audited import of its kind",
                kind.as_str()
            ));
        }
    }

    for kind in DocKind::ALL {
        for d in store.docs(kind, None).await? {
            report.documents += 1;
            let key = (kind.as_str().to_owned(), d.id.clone());
            match documents.remove(&key) {
                Some((hash, _))
                    if hash == doc_hash(&d.doc, d.secret.as_ref().map(|s| s.0.as_slice())) => {}
                Some((_, seq)) => report.problem(format!(
                    "{} {}: differs from what entry {seq} recorded (edited)",
                    kind.as_str(),
                    d.id
                )),
                None => report.problem(format!(
                    "{} {}: written by no audit entry",
                    kind.as_str(),
                    d.id
                )),
            }
        }
    }
    for ((kind, id), (_, seq)) in documents {
        report.problem(format!(
            "{kind} {id}: recorded by entry {seq} but missing (deleted)"
        ));
    }
    Ok(report)
}
