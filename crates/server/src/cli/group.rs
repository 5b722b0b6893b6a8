//! `deskward group …`

use clap::Subcommand;
use deskward_app::App;

use super::fail;

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create a group in a domain
    Add { domain: String, name: String },
    /// List the groups of a domain with their members
    List { domain: String },
    /// Remove a group (its members keep their accounts)
    Remove { domain: String, name: String },
    /// Add an account (name without @domain) to a group
    AddMember { domain: String, group: String, account: String },
    /// Remove an account from a group
    RemoveMember { domain: String, group: String, account: String },
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::Add { domain, name } => {
            let g = app.create_group(&op, &domain, &name).await.map_err(fail)?;
            println!("created group {} in {domain}", g.name);
        }
        Cmd::List { domain } => {
            for g in app.list_groups(&op, &domain).await.map_err(fail)? {
                println!("{:<32} {}", g.name, g.members.join(", "));
            }
        }
        Cmd::Remove { domain, name } => {
            app.remove_group(&op, &domain, &name).await.map_err(fail)?;
            println!("removed group {name} from {domain}");
        }
        Cmd::AddMember { domain, group, account } => {
            let g = app.set_member(&op, &domain, &group, &account, true).await.map_err(fail)?;
            println!("{} members: {}", g.name, g.members.join(", "));
        }
        Cmd::RemoveMember { domain, group, account } => {
            let g = app.set_member(&op, &domain, &group, &account, false).await.map_err(fail)?;
            println!("{} members: {}", g.name, g.members.join(", "));
        }
    }
    Ok(())
}
