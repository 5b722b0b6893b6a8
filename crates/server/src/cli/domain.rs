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
            println!("name:      {}\nstatus:    {}\naccounts:  {}\ncreated:   {}", d.name, if d.disabled { "disabled" } else { "enabled" }, d.accounts, time(Some(d.created_at)));
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
    }
    Ok(())
}
