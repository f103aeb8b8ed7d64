//! double-random: verifiable random inspection draws. The library's API is `core`, the pure
//! protocol (what a draw is and how anyone checks one), and `run_cli`, which the binary calls.
//! The other layers are crate-private; the integration tests reach them through the
//! `internals` feature, which only the test build turns on (see Cargo.toml).

pub mod core;

/// Layers the binary reaches only through `run_cli`, and the tests through `internals`.
macro_rules! internal {
    ($($name:ident),+ $(,)?) => {$(
        #[cfg(feature = "internals")]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        mod $name;
    )+};
}

internal!(cli, client, config, library, server, service, store, table);

/// The fuzz targets' bodies, for the afl binaries in `fuzz/` and the corpus replay test.
#[cfg(feature = "internals")]
pub mod fuzz;

/// The command line: parses the arguments, runs the command, and returns its exit code.
pub fn run_cli() -> anyhow::Result<i32> {
    use clap::Parser;
    cli::run(cli::Cli::parse())
}
