//! `deskward allow-list …`: a domain's allow-list of addresses and ranges.

use clap::Subcommand;
use deskward_app::{AllowList, App};

use super::fail;

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Show a domain's allow-list
    Show { domain: String },
    /// Replace a domain's allow-list; logins with the right password from elsewhere are held
    /// until the owner confirms the address from a mailed link
    Set {
        domain: String,
        /// Addresses and CIDR ranges, like 192.0.2.0/24,2001:db8::/48; empty lifts the list
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        networks: Vec<String>,
        /// Hold only domain and system administrators
        #[arg(long)]
        admins_only: bool,
        /// How long a confirmed address is trusted, like 7days; default guard.address_trust_time
        #[arg(long = "trust-for", value_name = "DURATION")]
        trust_for: Option<String>,
    },
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::Show { domain } => print(&app.allow_list(&op, &domain).await.map_err(fail)?),
        Cmd::Set { domain, networks, admins_only, trust_for } => {
            let trust = trust_for.as_deref().map(super::seconds_of).transpose()?;
            let networks: Vec<String> = networks.into_iter().filter(|n| !n.trim().is_empty()).collect();
            print(&app.set_allow_list(&op, &domain, &networks, admins_only, trust).await.map_err(fail)?);
        }
    }
    Ok(())
}

fn print(list: &AllowList) {
    if list.networks.is_empty() {
        println!("no allow-list: logins are not held for their address");
        return;
    }
    println!("networks:     {}", list.networks.join(", "));
    println!("applies to:   {}", if list.admins_only { "domain and system administrators" } else { "every account" });
    let own = if list.trust_seconds.is_some() { "this domain" } else { "server" };
    println!("trust for:    {} ({own})", humantime::format_duration(std::time::Duration::from_secs(list.effective_trust_seconds.unsigned_abs())));
}
