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
    }
    Ok(())
}
