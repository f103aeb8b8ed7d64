//! `fuzz <target>`: runs one of `double_random::fuzz::TARGETS` under afl (persistent mode).
//! One binary for all targets: one instrumented link instead of eleven.

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(&(_, target)) = double_random::fuzz::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
    else {
        let names: Vec<&str> = double_random::fuzz::TARGETS.iter().map(|t| t.0).collect();
        eprintln!("usage: fuzz <target>   (targets: {})", names.join(", "));
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| target(data));
}
