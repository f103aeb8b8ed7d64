//! `double-random serve`: the daemon on the configured database and address.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::office::Global;
use crate::config::Config;
use crate::server;
use crate::service::Actor;
use crate::service::bootstrap::{self, DemoState};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (host:port; port 0 picks a free one). Overrides the config.
    #[arg(long, env = "DOUBLE_RANDOM_LISTEN")]
    pub listen: Option<String>,
    /// Serve only: run no cron scheduler in this instance.
    #[arg(long)]
    pub no_scheduler: bool,
    /// On a database without plans, load a demo data set (2,000 objects, 120 inspectors, an
    /// approved plan whose task is due today); a load that died half-way is finished on the
    /// next start with --demo.
    #[arg(long)]
    pub demo: bool,
    /// Where the demo's library files are written.
    #[arg(long, default_value = "demo-out/serve")]
    pub demo_dir: PathBuf,
}

pub fn run(global: &Global, args: ServeArgs) -> Result<i32> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "double_random=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let mut config = Config::load(global.config.as_deref())?;
    if let Some(db) = &global.db {
        config.database.url = db.clone();
    }
    if let Some(l) = &args.listen {
        config.server.listen = l.clone();
    }
    let scheduler = config.server.scheduler && !args.no_scheduler;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listen = config.server.listen.clone();
        let (store, first) = server::open(&config, args.demo)
            .await
            .context("opening the database")?;
        // Printed before anything else can fail: a later error must not lose it.
        if let Some(token) = &first.admin_token {
            println!(
                "admin token of account {} (shown once, stored only as a hash; keep it now): {}",
                bootstrap::ADMIN,
                token.expose()
            );
        }
        let started = server::start(config, store, first.key)
            .await
            .context("starting the daemon")?;
        let state = started.state;
        if first.demo == Some(DemoState::Pending) {
            let today = state.runs.today();
            super::demo::write_files(&args.demo_dir, 2000, 120, 1, today, true)?;
            let who = Actor {
                name: "demo".into(),
                reason: "serve --demo".into(),
            };
            println!("loading the demo data set:");
            let lib = args.demo_dir.join("library");
            super::demo_office::load_demo(state.store(), &lib, today, &who).await?;
            bootstrap::demo_loaded(state.store(), &who, state.runs.now()).await?;
        }
        if started.recovered > 0 {
            println!(
                "completed {} draw(s) interrupted by a crash",
                started.recovered
            );
        }
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        println!(
            "double-random listening on http://{} (publication key {}, scheduler {})",
            listener.local_addr()?,
            state.runs.public_key(),
            if scheduler { "on" } else { "off" }
        );
        server::serve(listener, state, scheduler, shutdown_signal()).await?;
        println!("double-random stopped");
        Ok(0)
    })
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
