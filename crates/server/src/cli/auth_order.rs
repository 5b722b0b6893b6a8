//! `deskward auth-order …`: which back ends check a domain's logins, in which order.

use clap::Subcommand;
use deskward_app::{App, AuthOrder};

use super::fail;

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Show a domain's order and the plugins the configuration defines
    Show { domain: String },
    /// Set a domain's order: local, directory and plugin:<name>, first to last
    Set {
        domain: String,
        #[arg(required = true)]
        backends: Vec<String>,
    },
    /// Back to the default order: local, then the domain's directory if it has one
    Reset { domain: String },
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    let order = match cmd {
        Cmd::Show { domain } => app.auth_order(&op, &domain).await,
        Cmd::Set { domain, backends } => app.set_auth_order(&op, &domain, Some(&backends)).await,
        Cmd::Reset { domain } => app.set_auth_order(&op, &domain, None).await,
    };
    print(&order.map_err(fail)?);
    Ok(())
}

fn print(o: &AuthOrder) {
    let list: Vec<String> = o.backends.iter().map(ToString::to_string).collect();
    println!("domain:   {}", o.domain);
    println!("order:    {}{}", list.join(", "), if o.default { " (default)" } else { "" });
    let plugins = if o.plugins.is_empty() { "none configured".to_owned() } else { o.plugins.join(", ") };
    println!("plugins:  {plugins}");
}
