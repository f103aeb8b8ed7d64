//! Every kept fuzz input through its target (CI has no fuzzer): the seeds and the inputs afl
//! kept in fuzz/corpus/<target>/, and the reproducers of fixed findings in
//! fuzz/regressions/<target>/. The targets' bodies are `double_random::fuzz`.

use std::path::{Path, PathBuf};

use double_random::fuzz::TARGETS;

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn fuzz_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(sub)
}

/// Runs every file of `fuzz/<sub>/<target>/` through the target; returns how many ran.
fn replay(sub: &str) -> usize {
    let mut ran = 0;
    for (name, target) in TARGETS {
        for file in files(&fuzz_dir(sub).join(name)) {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name} panicked on {}", file.display());
            ran += 1;
        }
    }
    ran
}

#[test]
fn every_target_has_seeds_and_every_folder_a_target() {
    for sub in ["corpus", "regressions"] {
        let Ok(dirs) = std::fs::read_dir(fuzz_dir(sub)) else {
            assert_eq!(sub, "regressions", "fuzz/corpus is missing");
            continue;
        };
        for dir in dirs {
            let dir = dir.unwrap().file_name();
            let dir = dir.to_string_lossy();
            assert!(
                TARGETS.iter().any(|(n, _)| *n == dir),
                "fuzz/{sub}/{dir} names no target"
            );
        }
    }
    for (name, _) in TARGETS {
        assert!(
            !files(&fuzz_dir("corpus").join(name)).is_empty(),
            "fuzz/corpus/{name} has no seed"
        );
    }
}

/// The corpus, and the reproducers of fixed findings (none yet: the folder appears with the
/// first).
#[test]
fn the_corpus_runs_through_every_target_without_a_panic() {
    assert!(replay("corpus") >= TARGETS.len());
    replay("regressions");
}
