//! The offline command-line tool: the effects (files, OS randomness, clock for benchmarks)
//! around the pure core. This file is the command list and its dispatch; each command is in its
//! own file.

mod access_codes;
mod accounts;
mod attest;
pub mod bench;
pub mod bench_daemon;
mod bundle_file;
pub mod demo;
mod demo_cmd;
pub mod demo_office;
mod draw;
mod entropy_arg;
pub mod input;
pub mod log;
pub mod office;
pub mod output;
mod progress;
mod prove;
mod replace;
mod rfc3797;
pub mod serve;
mod verify;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "double-random",
    version,
    about = "Verifiable random inspection draws (双随机、一公开)"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: office::Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Generate demo data, draw, verify, and print the summary (the main job on built-in data).
    Demo(demo_cmd::DemoArgs),
    /// Write deterministic synthetic objects.csv, inspectors.csv and policy.toml.
    DemoData(demo_cmd::DemoDataArgs),
    /// Commit to the pool, derive the seed, draw, and write the full (auditor) bundle.
    Draw(draw::DrawArgs),
    /// Recompute everything a full bundle, public bundle or enterprise proof allows.
    Verify(verify::VerifyArgs),
    /// Make an auditor's Ed25519 key file (mode 0600) and print its public key, which the
    /// office's admin registers; `--show` prints the public key of an existing one.
    AuditorKey(attest::AuditorKeyArgs),
    /// An enterprise's proof of its outcome (in the pool or not, stratum, ticket, cutoff).
    Prove(prove::ProveArgs),
    /// Replace a drawn object found ineligible, or an inspector who must recuse (补抽).
    Replace(replace::ReplaceArgs),
    /// RFC 3797 selection: one line per pick (position, 1-based index in the names file, name).
    Rfc3797(rfc3797::Rfc3797Args),
    /// Import a library file (CSV or .xlsx) in one transaction.
    Import(office::ImportArgs),
    /// Export a library as CSV, .xlsx or JSON, with the columns `import` reads.
    Export(office::ExportArgs),
    /// Accounts (one per person, with a role) on the database directly: add, list, disable,
    /// reset-password.
    #[command(subcommand)]
    Account(accounts::AccountCommand),
    /// API tokens on the database directly: create, list, revoke (the way back in when the
    /// admin token is lost).
    #[command(subcommand)]
    Token(accounts::TokenCommand),
    /// Enterprises' access codes (for their own proofs): export them for the liaisons.
    #[command(subcommand)]
    AccessCodes(access_codes::AccessCodesCommand),
    /// The annual plan: create, submit, approve, amend, approve-amendment, show.
    #[command(subcommand)]
    Plan(office::PlanCommand),
    /// A plan's tasks: add, show.
    #[command(subcommand)]
    Task(office::TaskCommand),
    /// Freeze a task's pool as of now (or a past time), or check a stored snapshot.
    Snapshot(office::SnapshotArgs),
    /// The audit log: verify the chain and everything it covers, or list entries.
    #[command(subcommand)]
    Audit(office::AuditCommand),
    /// The transparency log: check checkpoints, inclusion of bundles, consistency over time.
    #[command(subcommand)]
    Log(LogCommand),
    /// Run the daemon: HTTP API, draw lifecycle, cron scheduler.
    Serve(serve::ServeArgs),
    /// Print the documented default configuration.
    Config {
        #[arg(long, required = true)]
        default: bool,
    },
    /// Measure the core on synthetic data: commit, draw, verify, peak memory.
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Check a signed checkpoint, a run's entry and bundle, consistency with a saved
    /// checkpoint, and every entry; offline from files or against --url. Exit 0 when all pass.
    Verify(log::VerifyArgs),
}

/// Runs the command; the exit code (1 when a verification fails).
/// Output into a closed pipe (`double-random … | head`) ends the process quietly, as for any
/// Unix filter, instead of panicking on the write. Not for the commands that talk to peers
/// over sockets (the daemon, the benchmarks, the log watcher): there a peer that hangs up
/// is an error to handle, not a signal that kills.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called before any thread is started; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

pub fn run(cli: Cli) -> Result<i32> {
    if !matches!(
        cli.command,
        Command::Serve(_) | Command::Bench(_) | Command::Log(_)
    ) {
        quiet_on_closed_pipe();
    }
    match cli.command {
        Command::Import(a) => office::run(&cli.global, office::Job::Import(a)),
        Command::Export(a) => office::run(&cli.global, office::Job::Export(a)),
        Command::Plan(c) => office::run(&cli.global, office::Job::Plan(c)),
        Command::Task(c) => office::run(&cli.global, office::Job::Task(c)),
        Command::Snapshot(a) => office::run(&cli.global, office::Job::Snapshot(a)),
        Command::Audit(c) => office::run(&cli.global, office::Job::Audit(c)),
        Command::Account(c) => accounts::run(&cli.global, accounts::Job::Account(c)),
        Command::Token(c) => accounts::run(&cli.global, accounts::Job::Token(c)),
        Command::AccessCodes(c) => access_codes::run(&cli.global, c),
        Command::Serve(a) => serve::run(&cli.global, a),
        Command::Log(LogCommand::Verify(a)) => log::run(a),
        Command::Config { .. } => {
            print!("{}", crate::config::DEFAULT_TOML);
            Ok(0)
        }
        Command::Demo(a) => demo_cmd::demo(a),
        Command::DemoData(a) => demo_cmd::demo_data(a),
        Command::Draw(a) => draw::run(a),
        Command::Verify(a) => verify::run(a),
        Command::AuditorKey(a) => attest::key_command(a),
        Command::Prove(a) => prove::run(a),
        Command::Replace(a) => replace::run(a),
        Command::Rfc3797(a) => rfc3797::run(a),
        Command::Bench(a) => bench::command(a),
    }
}
