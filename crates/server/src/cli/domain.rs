//! `deskward domain …`

use clap::Subcommand;
use deskward_app::App;

use deskward_core::audit::conversation_chain;

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
        /// Log the domain's instant-messaging conversations (on) or stop (off)
        #[arg(long, value_name = "on|off", value_parser = on_off)]
        im_logging: Option<bool>,
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
                "name:      {}\nstatus:    {}\naccounts:  {}\ncreated:   {}\naudit:     kept {retention}\nim log:    {}",
                d.name,
                if d.disabled { "disabled" } else { "enabled" },
                d.accounts,
                time(Some(d.created_at)),
                if d.im_logging { "on" } else { "off" }
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
        Cmd::Set { name, audit_retention_days, im_logging } => {
            if let Some(on) = im_logging {
                let d = app.set_im_logging(&op, &name, on).await.map_err(fail)?;
                match d.im_logging {
                    true => println!("{}: conversations are logged (audit chain {})", d.name, conversation_chain(&d.name)),
                    false => println!("{}: conversations are not logged", d.name),
                }
            }
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

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{s:?}: use on or off")),
    }
}
