//! `deskward account …`

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use deskward_app::{AccountChange, App, NewAccountInput};

use super::{fail, read_password, time};

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create an account
    Add {
        /// name@domain
        login: String,
        #[arg(long, value_parser = ["user", "agent", "domain-admin", "system-admin"])]
        role: String,
        /// User class (feature switches and quotas)
        #[arg(long)]
        class: Option<String>,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
        /// Require a new password at the first login
        #[arg(long)]
        must_change: bool,
        /// Where Deskward's mail to the account goes (default: its login address)
        #[arg(long)]
        email: Option<String>,
    },
    /// List the accounts of a domain
    List { domain: String },
    /// Show an account
    Show { login: String },
    /// Stop the account's logins and end its sessions
    Disable { login: String },
    /// Allow the account to log in again
    Enable { login: String },
    /// Set the account's password (from standard input); ends its sessions
    Passwd {
        login: String,
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Require another change at the next login
        #[arg(long)]
        must_change: bool,
    },
    /// Change role, class or forced password change
    Set {
        login: String,
        #[arg(long, value_parser = ["user", "agent", "domain-admin", "system-admin"])]
        role: Option<String>,
        /// User class; "" removes it
        #[arg(long)]
        class: Option<String>,
        #[arg(long)]
        must_change: Option<bool>,
        /// Where Deskward's mail to the account goes; "" means its login address
        #[arg(long)]
        email: Option<String>,
    },
    /// Remove an account
    Remove { login: String },
    /// Import accounts with password hashes (argon2id, bcrypt, SHA-512/256-crypt) from a file
    Import {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum Format {
    Csv,
    Json,
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::Add { login, role, class, password_stdin, must_change, email } => {
            let password = if password_stdin { Some(read_password()?) } else { None };
            let (name, domain) = login.rsplit_once('@').ok_or_else(|| anyhow::anyhow!("login {login:?} must look like name@domain"))?;
            let input = NewAccountInput { name: name.into(), role, class, password, must_change_password: must_change, email };
            let row = app.create_account(&op, domain, &input).await.map_err(fail)?;
            let note = if row.password_hash.is_none() { " (no password yet: set one with `deskward account passwd`)" } else { "" };
            println!("created {} {}{note}", row.role, row.login());
        }
        Cmd::List { domain } => {
            for a in app.list_accounts(&op, &domain).await.map_err(fail)? {
                let status = if a.disabled { "disabled" } else { "enabled" };
                println!("{:<40} {:<13} {:<9} class={}", a.login(), a.role.as_str(), status, a.class.as_deref().unwrap_or("-"));
            }
        }
        Cmd::Show { login } => {
            let (a, groups) = app.get_account(&op, &login).await.map_err(fail)?;
            println!(
                "login:             {}\nrole:              {}\nstatus:            {}\nclass:             {}\nmail address:      {}\ngroups:            {}\nmust change pw:    {}\npassword changed:  {}\nlast login:        {}\ncreated:           {}",
                a.login(),
                a.role,
                if a.disabled { "disabled" } else { "enabled" },
                a.class.as_deref().unwrap_or("-"),
                deskward_app::address_of(&a),
                if groups.is_empty() { "-".to_owned() } else { groups.join(", ") },
                a.must_change_password,
                time(a.password_changed_at),
                time(a.last_login_at),
                time(Some(a.created_at)),
            );
        }
        Cmd::Disable { login } => set(app, &login, AccountChange { disabled: Some(true), ..Default::default() }, "disabled; its sessions are ended").await?,
        Cmd::Enable { login } => set(app, &login, AccountChange { disabled: Some(false), ..Default::default() }, "enabled").await?,
        Cmd::Passwd { login, must_change, .. } => {
            let password = read_password()?;
            app.set_password(&op, &login, &password, must_change).await.map_err(fail)?;
            println!("password of {login} changed; its sessions are ended");
        }
        Cmd::Set { login, role, class, must_change, email } => {
            set(app, &login, AccountChange { role, class, disabled: None, must_change_password: must_change, email }, "updated").await?;
        }
        Cmd::Remove { login } => {
            app.remove_account(&op, &login).await.map_err(fail)?;
            println!("removed {login}");
        }
        Cmd::Import { file, format } => {
            let records = crate::import::read(&file, format)?;
            let summary = app.import_accounts(&op, &records).await.map_err(fail)?;
            let schemes: Vec<String> = summary.by_scheme.iter().map(|(s, n)| format!("{n} {s}")).collect();
            println!("imported {} accounts ({}); legacy hashes are upgraded to argon2id at each account's next login", summary.imported, schemes.join(", "));
        }
    }
    Ok(())
}


async fn set(app: &App, login: &str, change: AccountChange, what: &str) -> anyhow::Result<()> {
    let row = app.update_account(&crate::cli::operator(), login, &change).await.map_err(fail)?;
    println!("{} {what}", row.login());
    Ok(())
}
