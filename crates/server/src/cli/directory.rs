//! `deskward directory …`: a domain's LDAP or Active Directory connection.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use deskward_app::{App, Directory, DirectoryInput};

use super::fail;

// Parsed once per run: the size of the settings variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Show a domain's directory settings
    Show { domain: String },
    /// Connect a domain to a directory, or replace its settings (see docs/directory.md)
    Set {
        domain: String,
        /// ldaps://host[:port] or ldap://host[:port]
        #[arg(long)]
        url: String,
        /// ldaps, starttls, or plain (no TLS: passwords cross the network in the clear)
        #[arg(long, default_value = "ldaps")]
        security: String,
        /// openldap or active-directory: the default filter and attribute names
        #[arg(long, default_value = "openldap")]
        preset: String,
        /// The account Deskward searches with; empty searches anonymously
        #[arg(long, default_value = "")]
        bind_dn: String,
        /// A search base; repeat for several (searched in order)
        #[arg(long = "base-dn", required = true)]
        base_dns: Vec<String>,
        /// The search filter; {user}, {domain} and {login} are replaced by the login's escaped parts
        #[arg(long)]
        user_filter: Option<String>,
        /// The attribute that holds the name part of a login (default: the preset's, uid or sAMAccountName)
        #[arg(long)]
        login_attribute: Option<String>,
        #[arg(long)]
        mail_attribute: Option<String>,
        #[arg(long)]
        name_attribute: Option<String>,
        #[arg(long)]
        group_attribute: Option<String>,
        /// Keep a Deskward group's directory members as a directory group's: DN=GROUP; repeat for several
        #[arg(long = "keep-group", value_name = "DN=GROUP")]
        group_map: Vec<String>,
        /// The class of accounts made at a first directory login
        #[arg(long)]
        class: Option<String>,
        /// A PEM file of the CA certificates to trust for the directory's TLS (default: the system's)
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// The limit of each step, in milliseconds (a whole login gets twice this)
        #[arg(long)]
        timeout_ms: Option<i64>,
    },
    /// Disconnect a domain from its directory (the accounts it made stay)
    Remove { domain: String },
    /// Store the bind account's password (read from standard input) in the secrets store
    Password {
        domain: String,
        /// Remove the stored password instead
        #[arg(long)]
        clear: bool,
    },
    /// Sync the domain's accounts with its directory now: removed or disabled entries block
    /// their accounts, re-enabled ones unblock them, kept groups follow
    Sync {
        #[arg(long)]
        domain: String,
    },
    /// Connect and bind; with --login, also look that person up
    Test {
        domain: String,
        #[arg(long)]
        login: Option<String>,
    },
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::Show { domain } => print(&app.directory(&op, &domain).await.map_err(fail)?),
        Cmd::Set { domain, url, security, preset, bind_dn, base_dns, user_filter, login_attribute, mail_attribute, name_attribute, group_attribute, group_map, class, ca_file, timeout_ms } => {
            let group_map = group_map
                .iter()
                .map(|m| m.rsplit_once('=').map(|(dn, g)| (dn.to_owned(), g.to_owned())).ok_or_else(|| anyhow::anyhow!("--keep-group {m:?}: write it as DN=GROUP")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let ca_certificate = ca_file.map(|f| std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))).transpose()?;
            let input = DirectoryInput {
                url,
                security,
                preset,
                bind_dn,
                base_dns,
                user_filter,
                login_attribute,
                mail_attribute,
                name_attribute,
                group_attribute,
                group_map,
                new_account_class: class,
                ca_certificate,
                timeout_ms,
            };
            let d = app.set_directory(&op, &domain, &input).await.map_err(fail)?;
            print(&d);
            if !d.bind_dn.is_empty() && !d.bind_password_set {
                println!("next: store the bind password with `deskward directory password {domain}`");
            }
        }
        Cmd::Remove { domain } => {
            app.remove_directory(&op, &domain).await.map_err(fail)?;
            println!("{domain} is no longer connected to a directory; the accounts it made stay and cannot log in until given a password");
        }
        Cmd::Password { domain, clear } => {
            let password = if clear { None } else { Some(crate::cli::ask_password("Bind password: ")?) };
            app.set_directory_password(&op, &domain, password.as_deref()).await.map_err(fail)?;
            println!("{}", if clear { "the bind password is removed" } else { "the bind password is stored" });
        }
        Cmd::Sync { domain } => {
            let bar = std::io::stderr().is_terminal();
            let progress = |done: usize, all: usize| {
                if bar {
                    let width = 30;
                    let filled = (done * width).checked_div(all).unwrap_or(width).min(width);
                    eprint!("\rsyncing {domain}: [{}{}] {done}/{all} accounts", "#".repeat(filled), " ".repeat(width - filled));
                    if done == all {
                        eprintln!();
                    }
                }
            };
            let r = app.sync_directory(&op, &domain, &progress).await.map_err(fail)?;
            println!("{} entries in the directory, {} accounts made by it", r.entries, r.accounts);
            println!("blocked:   {}", list(&r.blocked));
            println!("unblocked: {}", list(&r.unblocked));
            println!("regrouped: {}", list(&r.regrouped));
            println!("remailed:  {}", list(&r.remailed));
        }
        Cmd::Test { domain, login } => {
            let t = app.test_directory(&op, &domain, login.as_deref()).await.map_err(fail)?;
            println!("connected and bound");
            if let Some(e) = t.entry {
                println!("entry:    {}", e.dn);
                println!("mail:     {}", e.mail.as_deref().unwrap_or("-"));
                println!("name:     {}", e.name.as_deref().unwrap_or("-"));
                println!("groups:   {}", if e.groups.is_empty() { "-".into() } else { e.groups.join("; ") });
                if e.disabled {
                    println!("disabled: yes (in the directory)");
                }
            }
        }
    }
    Ok(())
}

fn list(logins: &[String]) -> String {
    if logins.is_empty() { "-".into() } else { logins.join(", ") }
}

fn print(d: &Directory) {
    println!("url:          {} ({})", d.url, d.security.as_str());
    println!("preset:       {}", d.preset.as_str());
    let pw = if d.bind_password_set { "password stored" } else { "no password stored" };
    println!("bind as:      {}", if d.bind_dn.is_empty() { "anonymous".to_owned() } else { format!("{} ({pw})", d.bind_dn) });
    println!("search in:    {}", d.base_dns.join("; "));
    println!("user filter:  {}", d.user_filter);
    println!("attributes:   login={} mail={} name={} groups={}", d.login_attribute, d.mail_attribute, d.name_attribute, d.group_attribute);
    for (dn, group) in &d.group_map {
        println!("keeps group:  {group} = members of {dn}");
    }
    println!("last sync:    {}", super::time(d.last_sync_at));
    println!("new accounts: class {}", d.new_account_class.as_deref().unwrap_or("(none)"));
    println!("trust:        {}", if d.ca_certificate.is_some() { "the CA certificates given" } else { "the system's CA certificates" });
    println!("timeout:      {} ms per step", d.timeout.as_millis());
}
