//! The invariants of docs/ARCHITECTURE.md that the source text itself can show: which layer
//! may name which, where the clock is read, no import cycle between files, file sizes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, by module path (`service::runs::draw`; `mod.rs` is its folder).
fn sources() -> BTreeMap<Vec<String>, (PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            let text = std::fs::read_to_string(&p).unwrap();
            (module, (p, text))
        })
        .collect()
}

/// The code of a file without its unit tests and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a file names through `crate::`, `super::` and `self::` (group imports expanded
/// one level), resolved against its own module.
fn named_paths(module: &[String], is_folder: bool, code: &str) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut rest = code;
        while let Some(i) = rest.find(start) {
            let before = rest[..i].chars().last();
            rest = &rest[i + start.len()..];
            if before.is_some_and(ident) {
                continue;
            }
            let base: Vec<String> = match start {
                "crate::" => Vec::new(),
                // `super` of a folder's mod.rs is the folder's parent, of a file its folder.
                "super::" if is_folder => module[..module.len().saturating_sub(1)].to_vec(),
                "super::" => module[..module.len() - 1].to_vec(),
                _ if is_folder => module.to_vec(),
                _ => module[..module.len() - 1].to_vec(),
            };
            let mut prefix = base;
            let mut s = rest;
            loop {
                let len = s.find(|c: char| !ident(c)).unwrap_or(s.len());
                if len == 0 {
                    break;
                }
                prefix.push(s[..len].to_owned());
                s = &s[len..];
                match s.strip_prefix("::") {
                    Some(t) => s = t,
                    None => break,
                }
            }
            if let Some(group) = s.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    let head = item.trim().split("::").next().unwrap_or("").trim();
                    let head = head.split_whitespace().next().unwrap_or("");
                    if !head.is_empty() && head != "self" {
                        let mut p = prefix.clone();
                        p.push(head.to_owned());
                        out.push(p);
                    }
                }
            }
            out.push(prefix);
        }
    }
    out
}

/// The file-level import graph: which file names which other file.
fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files = sources();
    let mut edges = BTreeMap::new();
    for (module, (path, text)) in &files {
        let is_folder = path.file_stem().is_some_and(|s| s == "mod" || s == "lib");
        let mut targets = BTreeSet::new();
        for p in named_paths(module, is_folder, &code(text)) {
            // The longest prefix that is a file.
            if let Some(n) = (1..=p.len()).rev().find(|n| files.contains_key(&p[..*n])) {
                if p[..n] != module[..] {
                    targets.insert(p[..n].to_vec());
                }
            }
        }
        edges.insert(module.clone(), targets);
    }
    edges
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "lib".into()
    } else {
        m.join("::")
    }
}

#[test]
fn no_import_cycle_between_files() {
    let edges = graph();
    // A cycle exists iff some edge a → b has a path back from b to a.
    let reaches = |from: &Vec<String>, to: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            if &m == to {
                return true;
            }
            if seen.insert(m.clone()) {
                todo.extend(edges[&m].iter().cloned());
            }
        }
        false
    };
    let mut cycles = Vec::new();
    for (a, targets) in &edges {
        for b in targets {
            if reaches(b, a) {
                cycles.push(format!("{} → {}", name(a), name(b)));
            }
        }
    }
    assert!(cycles.is_empty(), "imports that close a cycle: {cycles:#?}");
}

/// Whether `code` has `word` where it starts a word (`println!` is not in `eprintln!`).
fn names(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(i, _)| {
        !code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn layers_name_only_the_layers_below_them() {
    // What each layer may not name (its callers, and effects it must not have).
    let rules: &[(&str, &[&str])] = &[
        (
            "core",
            &[
                "crate::library",
                "crate::table",
                "crate::store",
                "crate::service",
                "crate::server",
                "crate::client",
                "crate::cli",
                "tokio",
                "sqlx",
                "axum",
                "std::fs",
                "Utc::now",
                "SystemTime",
                "HashMap",
                "f64",
                "f32",
            ],
        ),
        (
            "library",
            &[
                "crate::table",
                "crate::store",
                "crate::service",
                "crate::server",
                "crate::cli",
                "tokio",
                "sqlx",
                "axum",
                "std::fs",
                "Utc::now",
            ],
        ),
        (
            "store",
            &[
                "crate::service",
                "crate::server",
                "crate::cli",
                "indicatif",
                "axum",
            ],
        ),
        (
            "table",
            &[
                "crate::service",
                "crate::server",
                "crate::cli",
                "indicatif",
                "axum",
            ],
        ),
        (
            "service",
            &[
                "crate::server",
                "crate::cli",
                "axum",
                "indicatif",
                "println!",
                "Utc::now",
            ],
        ),
        ("server", &["crate::cli", "indicatif"]),
    ];
    let mut broken = Vec::new();
    for (module, (path, text)) in sources() {
        let Some(layer) = module.first() else {
            continue;
        };
        let code = code(&text);
        for (l, banned) in rules {
            if layer != l {
                continue;
            }
            // The clock is read in one place: the services' `Clock`.
            if path.ends_with("service/clock.rs") {
                continue;
            }
            for b in *banned {
                if names(&code, b) {
                    broken.push(format!("{}: {b}", path.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "layer rules broken: {broken:#?}");
}

#[test]
fn long_files_say_why_in_their_opening_comment() {
    let mut long = Vec::new();
    for (_, (path, text)) in sources() {
        let lines = text.lines().count();
        let opening: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        if lines > 600 && !opening.contains("600 lines") {
            long.push(format!("{}: {lines} lines", path.display()));
        }
    }
    assert!(
        long.is_empty(),
        "files over 600 lines whose opening comment does not say why: {long:#?}"
    );
}
