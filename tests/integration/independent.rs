//! The Python verifier in tests/independent/, written from docs/draw-spec.md alone, must agree
//! with the Rust result digest on every frozen vector: the spec is the contract, not the code.

use std::process::Command;

#[test]
fn the_independent_python_verifier_agrees_on_every_vector() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{root}/tests/independent/run_vectors.py"))
        .current_dir(root)
        .output()
        .expect("python3 is needed for the independent verifier (.ci/run installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "independent verifier disagrees:\n{text}"
    );
    let summary = text
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .expect("a summary line");
    assert!(
        summary.ends_with(" 0 failed") && !summary.starts_with("0 passed"),
        "{summary}"
    );
}
