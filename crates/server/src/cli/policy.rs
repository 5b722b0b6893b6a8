//! `deskward policy …`

use clap::Subcommand;
use deskward_app::App;

use super::fail;

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Show a domain's password policy
    Show {
        domain: String,
        /// users, or staff (agents and admins)
        #[arg(long = "for", default_value = "users")]
        audience: String,
    },
    /// Change rules of a domain's password policy; unnamed rules keep their value
    Set {
        domain: String,
        #[arg(long = "for", default_value = "users")]
        audience: String,
        #[arg(long)]
        min_length: Option<u32>,
        #[arg(long)]
        min_non_letters: Option<u32>,
        #[arg(long)]
        require_lowercase: Option<bool>,
        #[arg(long)]
        require_uppercase: Option<bool>,
        #[arg(long)]
        require_digit: Option<bool>,
        #[arg(long)]
        require_symbol: Option<bool>,
        #[arg(long)]
        reject_common: Option<bool>,
        /// Days until a password expires; 0 means never
        #[arg(long)]
        max_age_days: Option<u32>,
        /// How many previous passwords may not be reused
        #[arg(long)]
        history: Option<u32>,
    },
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::Show { domain, audience } => {
            let p = app.get_policy(&op, &domain, &audience).await.map_err(fail)?;
            println!(
                "min_length        {}\nmin_non_letters   {}\nrequire_lowercase {}\nrequire_uppercase {}\nrequire_digit     {}\nrequire_symbol    {}\nreject_common     {}\nmax_age_days      {}\nhistory           {}",
                p.min_length,
                p.min_non_letters,
                p.require_lowercase,
                p.require_uppercase,
                p.require_digit,
                p.require_symbol,
                p.reject_common,
                p.max_age_days.map_or_else(|| "never".into(), |d| d.to_string()),
                p.history
            );
        }
        Cmd::Set {
            domain,
            audience,
            min_length,
            min_non_letters,
            require_lowercase,
            require_uppercase,
            require_digit,
            require_symbol,
            reject_common,
            max_age_days,
            history,
        } => {
            let mut p = app.get_policy(&op, &domain, &audience).await.map_err(fail)?;
            p.min_length = min_length.unwrap_or(p.min_length);
            p.min_non_letters = min_non_letters.unwrap_or(p.min_non_letters);
            p.require_lowercase = require_lowercase.unwrap_or(p.require_lowercase);
            p.require_uppercase = require_uppercase.unwrap_or(p.require_uppercase);
            p.require_digit = require_digit.unwrap_or(p.require_digit);
            p.require_symbol = require_symbol.unwrap_or(p.require_symbol);
            p.reject_common = reject_common.unwrap_or(p.reject_common);
            if let Some(days) = max_age_days {
                p.max_age_days = if days == 0 { None } else { Some(days) };
            }
            p.history = history.unwrap_or(p.history);
            app.set_policy(&op, &domain, &audience, &p).await.map_err(fail)?;
            println!("password policy for {audience} of {domain} updated");
        }
    }
    Ok(())
}
