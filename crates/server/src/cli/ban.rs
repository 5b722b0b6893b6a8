//! `deskward ban …`: the bans in force, and adding and lifting them by hand.

use clap::Subcommand;
use deskward_app::App;

use super::{fail, time};

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List the bans in force
    List,
    /// Ban an address or a CIDR range from logging in
    Add {
        /// An IP address or a CIDR range, like 203.0.113.9 or 2001:db8::/48
        network: String,
        /// How long, like 90s, 15m, 1h, 7days; default guard.ban_time_max
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
    },
    /// Lift a ban, naming the address or range as `ban list` shows it
    Remove { network: String },
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::List => {
            let bans = app.bans(&op).await.map_err(fail)?;
            if bans.is_empty() {
                println!("no bans in force");
            }
            for b in bans {
                println!("{:<40} until {}  {} by {} (offences {})", b.network, time(Some(b.until_at)), b.reason, b.created_by, b.offences);
            }
        }
        Cmd::Add { network, duration } => {
            let seconds = duration.as_deref().map(super::seconds_of).transpose()?;
            let b = app.ban(&op, &network, seconds).await.map_err(fail)?;
            println!("banned {} until {}", b.network, time(Some(b.until_at)));
        }
        Cmd::Remove { network } => {
            app.unban(&op, &network).await.map_err(fail)?;
            println!("lifted the ban of {network}");
        }
    }
    Ok(())
}
