//! `deskward mail …`: the outbox, a test message, the relay password, and which roles a domain
//! mails about logins.

use clap::Subcommand;
use deskward_app::App;
use deskward_app::store::NotificationRow;
use deskward_core::Role;

use super::{fail, time};

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List the newest messages of the outbox (queued, sent, failed)
    Queue {
        /// Only this domain's messages
        #[arg(long)]
        domain: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Queue a test message to check the relay settings
    Test { to: String },
    /// Store the relay password of mail.username (read from standard input) in the secrets store
    Password {
        /// Remove the stored password instead
        #[arg(long)]
        clear: bool,
    },
    /// Show which roles of a domain are mailed about their logins
    Rules { domain: String },
    /// Set which roles of a domain are mailed about their logins (every role gets this domain's own setting)
    SetRules {
        domain: String,
        /// Roles mailed on each successful login, like user,agent; empty for none
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        login_success: Vec<String>,
        /// Roles mailed when a login on them fails
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        login_failure: Vec<String>,
    },
    /// Forget a domain's own setting: the server's [notify] applies again
    ResetRules { domain: String },
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::Queue { domain, limit } => {
            let rows = app.outbox(&op, domain.as_deref(), limit).await.map_err(fail)?;
            if rows.is_empty() {
                println!("the outbox is empty");
            }
            for m in rows {
                let when = if m.state == "queued" { format!("next try {}", time(Some(m.next_attempt_at))) } else { time(m.done_at) };
                println!("{:<17} {:<6} {:<14} {:<32} {} attempts={} {}", m.id, m.state, m.kind, m.recipient, when, m.attempts, m.last_error.as_deref().unwrap_or(""));
            }
        }
        Cmd::Test { to } => {
            let id = app.queue_test_mail(&op, &to).await.map_err(fail)?;
            println!("queued test message {id} to {to}; `deskward mail queue` shows its delivery");
        }
        Cmd::Password { clear } => {
            let password = if clear { None } else { Some(crate::cli::ask_password("Relay password: ")?) };
            app.set_relay_password(&op, password.as_deref()).await.map_err(fail)?;
            println!("{}", if clear { "the relay password is removed" } else { "the relay password is stored; the server uses it from its next delivery" });
        }
        Cmd::Rules { domain } => print(&app.notification_rules(&op, &domain).await.map_err(fail)?),
        Cmd::SetRules { domain, login_success, login_failure } => {
            let roles = |names: &[String]| -> anyhow::Result<Vec<Role>> {
                names.iter().filter(|n| !n.trim().is_empty()).map(|n| n.trim().parse::<Role>().map_err(anyhow::Error::from)).collect()
            };
            let (success, failure) = (roles(&login_success)?, roles(&login_failure)?);
            let rows: Vec<NotificationRow> = Role::ALL
                .into_iter()
                .map(|role| NotificationRow { role, login_success: success.contains(&role), login_failure: failure.contains(&role) })
                .collect();
            print(&app.set_notification_rules(&op, &domain, &rows).await.map_err(fail)?);
        }
        Cmd::ResetRules { domain } => print(&app.set_notification_rules(&op, &domain, &[]).await.map_err(fail)?),
    }
    Ok(())
}

fn print(rows: &[deskward_app::RoleNotifications]) {
    let on = |b: bool| if b { "mailed" } else { "-" };
    println!("{:<13} {:<14} {:<14} set by", "role", "login", "failed login");
    for r in rows {
        println!("{:<13} {:<14} {:<14} {}", r.role.as_str(), on(r.login_success), on(r.login_failure), if r.own { "this domain" } else { "server" });
    }
}
