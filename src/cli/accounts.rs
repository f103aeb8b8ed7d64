//! `account` and `token`: accounts and API tokens managed on the configured database directly,
//! the way back in when the admin token is lost. Whoever can open the database can do this;
//! the audit log records `--actor` (default: the login name). Passwords are read from the
//! terminal (not echoed, asked twice) or from the first line of stdin, never from arguments.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Subcommand;

use super::office::{Global, actor};
use crate::config::Config;
use crate::service::accounts::{self, Password, Role};
use crate::service::tokens;
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Create an account (a person) with a role: auditor, officer, approver or admin.
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Also set a password (for the web console), read from the terminal or stdin.
        #[arg(long)]
        password: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Every account, disabled ones included.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: its tokens stop working at once.
    Disable {
        name: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Set a new password, read from the terminal or stdin.
    ResetPassword {
        name: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Issue an API token for an account; printed once.
    Create {
        account: String,
        /// Days it works (default: `[accounts] token_days`, 90).
        #[arg(long)]
        days: Option<u32>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Tokens by public id, account, expiry and state (never the token).
    List {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its public id (as `token list` shows it).
    Revoke {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).map_err(|e| e.to_string())
}

pub enum Job {
    Account(AccountCommand),
    Token(TokenCommand),
}

pub fn run(global: &Global, job: Job) -> Result<i32> {
    let config = Config::load(global.config.as_deref())?;
    let name = super::office::actor_name(global);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let store = super::office::open_store(global, &config).await?;
        let result = execute(&*store, &config, &name, job).await;
        store.close().await;
        result
    })
}

async fn execute(store: &dyn Store, config: &Config, name: &str, job: Job) -> Result<i32> {
    let now = Utc::now();
    match job {
        Job::Account(AccountCommand::Add {
            name: who,
            role,
            password,
            reason,
        }) => {
            let password = if password {
                Some(read_password(&who)?)
            } else {
                None
            };
            let a = accounts::create(
                store,
                &who,
                role,
                password.as_ref(),
                &actor(name, reason),
                now,
            )
            .await?;
            println!("account {} ({}) created", a.name, a.role.as_str());
        }
        Job::Account(AccountCommand::List { json }) => {
            let all = accounts::list(store).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            }
            for a in all.iter().filter(|_| !json) {
                println!(
                    "{}\t{}\t{}\tcreated {} by {}{}",
                    a.name,
                    a.role.as_str(),
                    if a.enabled() { "enabled" } else { "disabled" },
                    a.created_at.format("%Y-%m-%d"),
                    a.created_by,
                    if a.password_set_at.is_some() {
                        "\tpassword set"
                    } else {
                        ""
                    }
                );
            }
        }
        Job::Account(AccountCommand::Disable { name: who, reason }) => {
            let a = accounts::disable(store, &who, &actor(name, reason), now).await?;
            println!("account {} disabled: its tokens no longer work", a.name);
        }
        Job::Account(AccountCommand::ResetPassword { name: who, reason }) => {
            let password = read_password(&who)?;
            let a =
                accounts::reset_password(store, &who, &password, &actor(name, reason), now).await?;
            println!("password of account {} set", a.name);
        }
        Job::Token(TokenCommand::Create {
            account,
            days,
            reason,
        }) => {
            let days = days.unwrap_or(config.accounts.token_days);
            let (token, info) =
                tokens::issue(store, &account, days, &actor(name, reason), now).await?;
            println!(
                "token {} of account {} (expires {}; shown once, stored only as a hash):\n{}",
                info.id,
                info.account,
                info.expires_at.as_deref().unwrap_or("never"),
                token.expose()
            );
        }
        Job::Token(TokenCommand::List { account, json }) => {
            let all = tokens::list(store, account.as_deref(), now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            }
            for t in all.iter().filter(|_| !json) {
                println!(
                    "{}\t{}\t{}\tcreated {} by {}\texpires {}",
                    t.id,
                    t.account,
                    t.state,
                    t.created_at,
                    t.created_by,
                    t.expires_at.as_deref().unwrap_or("-")
                );
            }
        }
        Job::Token(TokenCommand::Revoke { id, reason }) => {
            let t = tokens::revoke(store, &id, &actor(name, reason), now).await?;
            println!("token {} of account {} revoked", t.id, t.account);
        }
    }
    Ok(0)
}

/// A password from the terminal (not echoed, typed twice) or the first line of stdin.
fn read_password(account: &str) -> Result<Password> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        let text = line.trim_end_matches(['\r', '\n']).to_owned();
        return Ok(Password::new(text)?);
    }
    let first = prompt(&format!("password for {account}: "))?;
    let again = prompt("again: ")?;
    anyhow::ensure!(first == again, "the two passwords differ");
    Ok(Password::new(first)?)
}

/// One line from the terminal with echo off (restored even if reading fails).
fn prompt(text: &str) -> Result<String> {
    eprint!("{text}");
    std::io::stderr().flush()?;
    // SAFETY: termios calls on stdin's descriptor with a struct they fill; echo is restored.
    let saved = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut t) != 0 {
            anyhow::bail!("reading the terminal's settings");
        }
        let saved = t;
        t.c_lflag &= !libc::ECHO;
        libc::tcsetattr(0, libc::TCSANOW, &t);
        saved
    };
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    // SAFETY: as above, putting back what tcgetattr returned.
    unsafe {
        libc::tcsetattr(0, libc::TCSANOW, &saved);
    }
    eprintln!();
    read.context("reading the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
