//! The command line: `deskward serve` and the administration commands. Admin commands work on
//! the same data directory and database as the server, as the local operator (someone with a
//! shell on the host holds every right).

pub mod account;
mod allow_list;
mod directory;
mod audit;
mod auth_order;
mod ban;
mod class;
mod domain;
mod group;
mod mail;
mod plugin;
mod policy;
mod secrets;
mod session;

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{anyhow, bail};
use clap::{Args, Parser, Subcommand};

use crate::settings;

#[derive(Parser, Debug)]
#[command(name = "deskward", version, about = "Deskward: a self-hosted, multi-domain collaboration and helpdesk server")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Configuration file (TOML); see docs/configuration.md
    #[arg(long, global = true, env = "DESKWARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory; overrides server.data_dir
    #[arg(long, global = true, env = "DESKWARD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (HTTPS on http.listen)
    Serve,
    /// Manage domains
    #[command(subcommand)]
    Domain(domain::Cmd),
    /// Manage accounts (logins are name@domain)
    #[command(subcommand)]
    Account(account::Cmd),
    /// Manage groups of accounts
    #[command(subcommand)]
    Group(group::Cmd),
    /// Manage user classes (feature switches and quotas)
    #[command(subcommand)]
    Class(class::Cmd),
    /// Show and set password policies
    #[command(subcommand)]
    Policy(policy::Cmd),
    /// Browse, search, export and verify the audit log
    #[command(subcommand)]
    Audit(audit::Cmd),
    /// List and end sessions
    #[command(subcommand)]
    Session(session::Cmd),
    /// List, add and lift bans of clients
    #[command(subcommand)]
    Ban(ban::Cmd),
    /// Show and set a domain's allow-list of addresses
    #[command(subcommand)]
    AllowList(allow_list::Cmd),
    /// A domain's LDAP or Active Directory connection
    #[command(subcommand)]
    Directory(directory::Cmd),
    /// The order of a domain's authentication back ends (local, directory, plugins)
    #[command(subcommand)]
    AuthOrder(auth_order::Cmd),
    /// Authentication plugins: check the configured ones; run a shipped one
    #[command(subcommand)]
    Plugin(plugin::Cmd),
    /// Deskward's own mail: the outbox, a test message, login mails per domain
    #[command(subcommand)]
    Mail(mail::Cmd),
    /// Encryption of stored secrets (relay and directory passwords) with a key file
    #[command(subcommand)]
    Secrets(secrets::Cmd),
    /// Inspect the configuration
    #[command(subcommand)]
    Config(ConfigCmd),
}

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Check the configuration and print the effective settings
    Check,
    /// List every configuration key with its default
    Keys,
}

/// The settings `cli`'s command runs with; `None` for the commands that read none (the key
/// list and the shipped plugins, which run with an emptied environment). Read before the
/// async runtime starts, so what must be in the process environment can be put there.
pub fn settings_of(cli: &Cli) -> anyhow::Result<Option<deskward_config::Settings>> {
    match &cli.command {
        Command::Config(ConfigCmd::Keys) | Command::Plugin(plugin::Cmd::Htpasswd { .. } | plugin::Cmd::Sql { .. }) => Ok(None),
        _ => settings::load(&cli.global).map(Some),
    }
}

pub async fn run(cli: Cli, settings: Option<deskward_config::Settings>) -> anyhow::Result<()> {
    let Some(settings) = settings else {
        return match cli.command {
            Command::Plugin(cmd) => plugin::run_shipped(cmd).await,
            _ => {
                for key in deskward_config::keys() {
                    println!("{:<32} {:<20} {}", key.key, key.default, key.help);
                }
                Ok(())
            }
        };
    };
    let command = cli.command;
    init_logging(&settings);
    let app = || async { settings::open_app(&settings).await.map(|(app, _)| app) };
    match command {
        Command::Serve => crate::serve::run(&settings).await,
        Command::Domain(cmd) => domain::run(&app().await?, cmd).await,
        Command::Account(cmd) => account::run(&app().await?, cmd).await,
        Command::Group(cmd) => group::run(&app().await?, cmd).await,
        Command::Class(cmd) => class::run(&app().await?, cmd).await,
        Command::Policy(cmd) => policy::run(&app().await?, cmd).await,
        Command::Audit(cmd) => audit::run(&app().await?, &settings, cmd).await,
        Command::Ban(cmd) => ban::run(&app().await?, cmd).await,
        Command::Session(cmd) => session::run(&app().await?, cmd).await,
        Command::Mail(cmd) => mail::run(&app().await?, cmd).await,
        Command::AllowList(cmd) => allow_list::run(&app().await?, cmd).await,
        Command::Directory(cmd) => directory::run(&app().await?, cmd).await,
        Command::AuthOrder(cmd) => auth_order::run(&app().await?, cmd).await,
        Command::Plugin(cmd) => plugin::run(&app().await?, cmd).await,
        Command::Secrets(cmd) => secrets::run(&app().await?, cmd).await,
        Command::Config(ConfigCmd::Check) => {
            println!("{settings:#?}");
            Ok(())
        }
        Command::Config(ConfigCmd::Keys) => Ok(()),
    }
}

fn init_logging(settings: &deskward_config::Settings) {
    let filter = std::env::var("DESKWARD_LOG").unwrap_or_else(|_| settings.log.level.clone());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match settings.log.format {
        deskward_config::LogFormat::Json => builder.json().try_init(),
        deskward_config::LogFormat::Text => builder.try_init(),
    };
}

/// Reads a password: asked for without echo on a terminal, else one line of standard input.
pub fn ask_password(prompt: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return read_password();
    }
    let password = rpassword::prompt_password(prompt).map_err(|e| anyhow!("cannot read the password: {e}"))?;
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(password)
}

/// Reads one password line from standard input (for `--password-stdin`).
pub fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| anyhow!("cannot read the password from standard input: {e}"))?;
    let password = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line);
    if password.is_empty() {
        bail!("the password read from standard input is empty");
    }
    Ok(password.to_owned())
}

/// Turns an application error into a CLI error that keeps the rule list of a refused password.
pub fn fail(e: deskward_app::AppError) -> anyhow::Error {
    match &e {
        deskward_app::AppError::Policy(v) => {
            let rules: Vec<String> = v.iter().map(|v| format!("  - {}: {}", v.rule(), v.message())).collect();
            anyhow!("password refused by the domain's policy:\n{}", rules.join("\n"))
        }
        _ => anyhow!("{e}"),
    }
}

/// A duration as written on the command line (`90s`, `15m`, `8h`, `7days`), in whole seconds.
pub fn seconds_of(text: &str) -> anyhow::Result<i64> {
    let d = humantime::parse_duration(text).map_err(|_| anyhow!("invalid duration {text:?}; write it like 90s, 15m, 8h or 7days"))?;
    Ok(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A time for CLI output, `-` when there is none.
pub fn time(unix: Option<i64>) -> String {
    unix.map_or_else(|| "-".into(), deskward_http::format_time)
}

/// The local operator, as the audit log names them: `operator` from this host.
pub fn operator() -> deskward_app::Caller {
    deskward_app::Caller::operator(&host_name())
}

/// This machine's host name (Linux), or `localhost`.
pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".into())
}
