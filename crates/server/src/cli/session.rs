//! `deskward session …`: live sessions, and ending them.

use clap::Subcommand;
use deskward_app::App;

use super::{fail, time};

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List live sessions, of one account or of everyone
    List { login: Option<String> },
    /// End every session of an account (LOGIN), or one session (its ID from `session list`)
    Revoke { target: String },
    /// Show a domain's session rules: its overrides and what its new sessions follow
    Rules { domain: String },
    /// Override the server's session settings for a domain; `default` goes back to the server's
    SetRules {
        domain: String,
        /// Users' idle timeout, like 30m
        #[arg(long, value_name = "DURATION|default")]
        idle: Option<String>,
        /// Users' absolute lifetime, like 8h
        #[arg(long, value_name = "DURATION|default")]
        absolute: Option<String>,
        /// Agents' and admins' idle timeout
        #[arg(long, value_name = "DURATION|default")]
        staff_idle: Option<String>,
        /// Agents' and admins' absolute lifetime
        #[arg(long, value_name = "DURATION|default")]
        staff_absolute: Option<String>,
        /// Whether users may be remembered
        #[arg(long, value_name = "allow|forbid|default")]
        remember_me: Option<String>,
    },
}

/// A flag's new value: `None` keeps the current override, `Some(None)` the server's setting.
fn seconds(flag: Option<String>, current: Option<i64>) -> anyhow::Result<Option<i64>> {
    match flag.as_deref() {
        None => Ok(current),
        Some("default") => Ok(None),
        Some(d) => super::seconds_of(d).map(Some),
    }
}

fn print_rules(o: &deskward_app::store::SessionRuleRow, e: &deskward_app::SessionRules) {
    let show = |v: i64, own: Option<i64>| {
        let text = humantime::format_duration(std::time::Duration::from_secs(v.unsigned_abs())).to_string();
        if own.is_some() { format!("{text} (this domain)") } else { format!("{text} (server)") }
    };
    println!("users idle:      {}", show(e.users.idle, o.users_idle));
    println!("users absolute:  {}", show(e.users.absolute, o.users_absolute));
    println!("staff idle:      {}", show(e.staff.idle, o.staff_idle));
    println!("staff absolute:  {}", show(e.staff.absolute, o.staff_absolute));
    let who = if o.remember_me.is_some() { "this domain" } else { "server" };
    println!("remember me:     {} ({who})", if e.remember_me { "allowed" } else { "forbidden" });
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::List { login } => {
            let list = app.sessions(&op, login.as_deref()).await.map_err(fail)?;
            if list.is_empty() {
                println!("no live sessions");
            }
            for e in list {
                let s = &e.session;
                let kind = if s.remembered { "remembered" } else { "" };
                println!(
                    "{}  {:<32} from {:<39} since {}  idle until {}  ends {}  {kind}",
                    s.id(),
                    e.login,
                    s.source_ip,
                    time(Some(s.created_at)),
                    time(Some(s.idle_expires_at)),
                    time(Some(s.expires_at)),
                );
            }
        }
        Cmd::Revoke { target } if target.contains('@') => {
            let n = app.revoke_sessions(&op, &target, None).await.map_err(fail)?;
            println!("ended {n} session(s) of {target}");
        }
        Cmd::Revoke { target } => {
            let login = app.revoke_session_by_id(&op, &target).await.map_err(fail)?;
            println!("ended session {target} of {login}");
        }
        Cmd::Rules { domain } => {
            let (o, e) = app.session_rules(&op, &domain).await.map_err(fail)?;
            print_rules(&o, &e);
        }
        Cmd::SetRules { domain, idle, absolute, staff_idle, staff_absolute, remember_me } => {
            let (current, _) = app.session_rules(&op, &domain).await.map_err(fail)?;
            let remember_me = match remember_me.as_deref() {
                None => current.remember_me,
                Some("default") => None,
                Some("allow") => Some(true),
                Some("forbid") => Some(false),
                Some(other) => anyhow::bail!("invalid --remember-me {other:?}; expected allow, forbid or default"),
            };
            let rules = deskward_app::store::SessionRuleRow {
                users_idle: seconds(idle, current.users_idle)?,
                users_absolute: seconds(absolute, current.users_absolute)?,
                staff_idle: seconds(staff_idle, current.staff_idle)?,
                staff_absolute: seconds(staff_absolute, current.staff_absolute)?,
                remember_me,
            };
            let e = app.set_session_rules(&op, &domain, &rules).await.map_err(fail)?;
            print_rules(&rules, &e);
        }
    }
    Ok(())
}
