//! `access-codes export`: every enterprise's access code into a CSV for the office's mail
//! merge to the liaisons (联络员): written atomically into a file only its owner may read.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Subcommand;

use super::office::{Global, actor, open_store};
use super::output::AtomicFile;
use crate::config::Config;
use crate::service::access_codes::{self, AccessCodes};

#[derive(Subcommand, Debug)]
pub enum AccessCodesCommand {
    /// Write every library object's access code (统一社会信用代码, 名称, liaison and address
    /// columns where the library has them, 访问码) as CSV that Excel opens; the same codes on
    /// every export. The audit log records who exported them.
    Export {
        /// The CSV file (created mode 0600).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

pub fn run(global: &Global, command: AccessCodesCommand) -> Result<i32> {
    let AccessCodesCommand::Export { out, reason } = command;
    let config = Config::load(global.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let store = open_store(global, &config).await?;
        let who = super::office::actor_name(global);
        let result = async {
            let codes = AccessCodes::load_or_create(&*store, Utc::now()).await?;
            let mut file = AtomicFile::create_private(&out)?;
            let shown = out.display().to_string();
            let n = access_codes::export(&*store, &codes, &actor(&who, reason), &mut file, &shown)
                .await?;
            file.commit()?;
            println!("exported the access codes of {n} objects to {shown} (mode 0600)");
            Ok(0)
        }
        .await;
        store.close().await;
        result
    })
}
