//! `deskward domain …`

use clap::Subcommand;
use deskward_app::App;

use super::{fail, time};

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create a domain
    Add { name: String },
    /// List domains
    List,
    /// Show a domain
    Show { name: String },
    /// Stop every login of the domain's accounts (mail is still accepted)
    Disable { name: String },
    /// Allow logins again
    Enable { name: String },
    /// Remove a domain and everything in it
    Remove { name: String },
    /// Change a domain's settings
    Set {
        name: String,
        /// Days the domain's audit records stay in the store before retention archives them
        /// to files; 0 keeps them forever
        #[arg(long)]
        audit_retention_days: Option<u32>,
    },
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::Add { name } => {
            let d = app.create_domain(&op, &name).await.map_err(fail)?;
            println!("created domain {}", d.name);
        }
        Cmd::List => {
            for d in app.list_domains(&op).await.map_err(fail)? {
                println!("{:<40} {:<9} {:>6} accounts", d.name, if d.disabled { "disabled" } else { "enabled" }, d.accounts);
            }
        }
        Cmd::Show { name } => {
            let d = app.get_domain(&op, &name).await.map_err(fail)?;
            let retention = d.audit_retention_days.map_or_else(|| "forever".to_owned(), |n| format!("{n} days"));
            println!(
                "name:      {}\nstatus:    {}\naccounts:  {}\ncreated:   {}\naudit:     kept {retention}",
                d.name,
                if d.disabled { "disabled" } else { "enabled" },
                d.accounts,
                time(Some(d.created_at))
            );
        }
        Cmd::Disable { name } => {
            app.set_domain_disabled(&op, &name, true).await.map_err(fail)?;
            println!("disabled domain {name}; its sessions are ended");
        }
        Cmd::Enable { name } => {
            app.set_domain_disabled(&op, &name, false).await.map_err(fail)?;
            println!("enabled domain {name}");
        }
        Cmd::Remove { name } => {
            app.remove_domain(&op, &name).await.map_err(fail)?;
            println!("removed domain {name}");
        }
        Cmd::Set { name, audit_retention_days } => {
            if let Some(days) = audit_retention_days {
                let d = app.set_audit_retention(&op, &name, (days > 0).then_some(days)).await.map_err(fail)?;
                match d.audit_retention_days {
                    Some(n) => println!("{}: audit records stay in the store for {n} days, then are archived", d.name),
                    None => println!("{}: audit records stay in the store forever", d.name),
                }
            }
        }
    }
    Ok(())
}
