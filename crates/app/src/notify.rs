//! Notifications (K7): accounts mailed on their logins and failed logins, per domain and role;
//! system administrators mailed when the guard bans a client. Messages are queued in the
//! outbox in the transaction of what they report, where there is one; the delivery worker
//! (`outbox.rs`) sends them.

use deskward_core::audit::{SYSTEM_CHAIN, clean_field, timestamp};
use deskward_core::{EmailAddress, Login, Role};
use deskward_store::{AccountRow, Conn, DomainRow, Housekeeping, NewMail, NotificationRow, OutboxRow, Tx};
use serde_json::json;

use crate::domains::administered;
use crate::{App, AppError, Caller, Source};

/// Who is mailed about what: `[notify]`, and whether `[mail]` names a relay.
#[derive(Debug, Clone)]
pub struct NotifyRules {
    /// A relay is configured; without one nothing is queued.
    pub mail: bool,
    pub login_success: Vec<Role>,
    pub login_failure: Vec<Role>,
    pub bans: bool,
    /// Seconds: at most one failed-login mail per account, and one ban mail per administrator.
    pub interval: i64,
    /// Links in mail start with this, like `https://desk.example.org`.
    pub public_url: String,
}

impl Default for NotifyRules {
    fn default() -> Self {
        NotifyRules { mail: false, login_success: Vec::new(), login_failure: Vec::new(), bans: true, interval: 900, public_url: String::new() }
    }
}

/// One role's switches in a domain, and whether they are the domain's own or the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleNotifications {
    pub role: Role,
    pub login_success: bool,
    pub login_failure: bool,
    /// Set by the domain, not inherited from `[notify]`.
    pub own: bool,
}

/// Where Deskward's mail to an account goes: its own address, or its login.
pub fn address_of(account: &AccountRow) -> String {
    account.email.clone().unwrap_or_else(|| account.login())
}

impl NotifyRules {
    /// The switches of every role in a domain with these overrides.
    pub fn effective(&self, rows: &[NotificationRow]) -> Vec<RoleNotifications> {
        Role::ALL
            .into_iter()
            .map(|role| match rows.iter().find(|r| r.role == role) {
                Some(r) => RoleNotifications { role, login_success: r.login_success, login_failure: r.login_failure, own: true },
                None => RoleNotifications {
                    role,
                    login_success: self.login_success.contains(&role),
                    login_failure: self.login_failure.contains(&role),
                    own: false,
                },
            })
            .collect()
    }
}

/// `role`'s switches among a domain's `list`; all off when the list has none for it.
pub(crate) fn switches_of(list: &[RoleNotifications], role: Role) -> RoleNotifications {
    let off = RoleNotifications { role, login_success: false, login_failure: false, own: false };
    list.iter().find(|r| r.role == role).copied().unwrap_or(off)
}

impl App {
    /// Every role's switches in a domain; none when mail is off.
    pub(crate) async fn notifications_of(&self, c: &mut Conn, domain_id: i64) -> Result<Vec<RoleNotifications>, AppError> {
        if !self.notify.mail {
            return Ok(Vec::new());
        }
        Ok(self.notify.effective(&NotificationRow::get(c, domain_id).await?))
    }

    /// A role's switches in a domain; all off when no relay is configured.
    pub(crate) async fn notifications_for(&self, c: &mut Conn, domain_id: i64, role: Role) -> Result<RoleNotifications, AppError> {
        Ok(switches_of(&self.notifications_of(c, domain_id).await?, role))
    }

    /// Queues the mail telling an account about its new session, in the login's transaction.
    pub(crate) async fn queue_login_mail(&self, tx: &mut Tx, account: &AccountRow, source: &Source, now: i64) -> Result<(), AppError> {
        let login = account.login();
        let body = format!(
            "Someone signed in to your Deskward account {login}.\n\n{}\n\
             If this was you, there is nothing to do. If not, change your password at once and end\n\
             the session on your account page: {}/account\n",
            where_from(source, now),
            self.notify.public_url,
        );
        let subject = format!("New sign-in to {login}");
        let mail = NewMail { chain: &account.domain, kind: "login.success", recipient: &address_of(account), subject: &subject, body: &body };
        OutboxRow::queue(tx, &mail, now).await?;
        Ok(())
    }

    /// Queues the mail telling an account that an administrator opened a session of it, in
    /// the impersonation's transaction.
    pub(crate) async fn queue_impersonation_mail(&self, tx: &mut Tx, account: &AccountRow, admin: &str, reason: &str, session: &deskward_store::SessionRow) -> Result<(), AppError> {
        let login = account.login();
        let body = format!(
            "The administrator {admin} opened a session of your Deskward account {login} to act for you.\n\n\
             Reason given: {reason}\n\
             The session ends at {} at the latest; everything done in it is recorded under both names.\n\
             You can end it at once on your account page: {}/account\n",
            deskward_core::audit::timestamp(session.expires_at),
            self.notify.public_url,
        );
        let subject = format!("An administrator is acting for {login}");
        let mail = NewMail { chain: &account.domain, kind: "login.impersonation", recipient: &address_of(account), subject: &subject, body: &body };
        OutboxRow::queue(tx, &mail, session.created_at).await?;
        Ok(())
    }

    /// Tells the owner of `login` about a failed login on it, when their domain wants that
    /// and no such mail went to them within `notify.interval`. Runs in the background so a
    /// failure on a known account takes no longer than one on an unknown account.
    pub(crate) fn notify_failed_login(&self, login: &str, source: &Source) {
        if !self.notify.mail {
            return;
        }
        let (app, login, source) = (self.clone(), login.to_owned(), source.clone());
        tokio::spawn(async move {
            if let Err(e) = app.queue_failure_mail(&login, &source).await {
                tracing::warn!(error = %e, "cannot queue the mail about a failed login");
            }
        });
    }

    async fn queue_failure_mail(&self, login: &str, source: &Source) -> Result<(), AppError> {
        let Ok(login) = Login::parse(login) else { return Ok(()) };
        let mut c = self.store.conn().await?;
        let Some(account) = AccountRow::find(&mut c, login.domain.as_str(), login.name.as_str()).await? else { return Ok(()) };
        if account.disabled || account.domain_disabled || !self.notifications_for(&mut c, account.domain_id, account.role).await?.login_failure {
            return Ok(());
        }
        let now = self.now();
        let to = address_of(&account);
        if OutboxRow::queued_since(&mut c, &to, "login.failure", now - self.notify.interval).await? {
            return Ok(());
        }
        drop(c);
        let login = account.login();
        let body = format!(
            "Someone tried to sign in to your Deskward account {login} with a wrong password.\n\n{}\n\
             If this was not you, nothing got in, but the password is under attack: choose a strong\n\
             one if yours is not. You are told about such attempts at most once every {}.\n",
            where_from(source, now),
            minutes(self.notify.interval),
        );
        let subject = format!("Failed sign-in to {login}");
        let mail = NewMail { chain: &account.domain, kind: "login.failure", recipient: &to, subject: &subject, body: &body };
        let mut tx = self.store.begin().await?;
        OutboxRow::queue(&mut tx, &mail, now).await?;
        tx.commit_unaudited(Housekeeping::MailQueued).await?;
        Ok(())
    }

    /// The system administrators to tell about a ban, read before the ban's transaction.
    pub(crate) async fn ban_recipients(&self) -> Result<Vec<String>, AppError> {
        if !(self.notify.mail && self.notify.bans) {
            return Ok(Vec::new());
        }
        let mut c = self.store.conn().await?;
        let admins = AccountRow::system_admins(&mut c).await?;
        let since = self.now() - self.notify.interval;
        let mut out = Vec::new();
        for a in &admins {
            let to = address_of(a);
            if !out.contains(&to) && !OutboxRow::queued_since(&mut c, &to, "ban", since).await? {
                out.push(to);
            }
        }
        Ok(out)
    }

    /// Queues the ban mail to `recipients`, in the ban's transaction.
    pub(crate) async fn queue_ban_mail(&self, tx: &mut Tx, recipients: &[String], ban: &deskward_store::BanRow, attacker: &Source, tried: &str) -> Result<(), AppError> {
        let subject = format!("Deskward banned {}", ban.network);
        let body = format!(
            "The brute-force guard banned {} until {} after repeated failed logins\n\
             (ban number {} of this client). The last login it tried was {}.\n\n{}\n\
             Bans are listed with `deskward ban list`; `deskward ban remove {}` lifts this one.\n\
             You are told about bans at most once every {}; the audit log has every one.\n",
            ban.network,
            timestamp(ban.until_at),
            ban.offences,
            clean_field(tried),
            where_from(attacker, ban.created_at),
            ban.network,
            minutes(self.notify.interval),
        );
        for to in recipients {
            let mail = NewMail { chain: SYSTEM_CHAIN, kind: "ban", recipient: to, subject: &subject, body: &body };
            OutboxRow::queue(tx, &mail, ban.created_at).await?;
        }
        Ok(())
    }

    /// The domain's switches per role, with the server's where it sets none.
    pub async fn notification_rules(&self, caller: &Caller, domain: &str) -> Result<Vec<RoleNotifications>, AppError> {
        let mut c = self.store.conn().await?;
        let d = administered(&mut c, &caller.actor, domain).await?;
        let rows = NotificationRow::get(&mut c, d.id).await?;
        Ok(self.notify.effective(&rows))
    }

    /// Replaces the domain's own switches; roles left out follow the server's `[notify]`.
    pub async fn set_notification_rules(&self, caller: &Caller, domain: &str, rows: &[NotificationRow]) -> Result<Vec<RoleNotifications>, AppError> {
        for (i, r) in rows.iter().enumerate() {
            if rows[..i].iter().any(|o| o.role == r.role) {
                return Err(AppError::Invalid(format!("role {} is given twice", r.role)));
            }
        }
        let mut tx = self.store.begin().await?;
        let d: DomainRow = administered(tx.conn(), &caller.actor, domain).await?;
        let before = NotificationRow::get(tx.conn(), d.id).await?;
        NotificationRow::put(&mut tx, d.id, rows).await?;
        let summary = json!({ "before": summary(&before), "after": summary(rows) });
        tx.commit(self.entry(caller, &d.name, "domain.notifications", format!("domain:{}", d.name), summary)).await?;
        Ok(self.notify.effective(rows))
    }
}

fn summary(rows: &[NotificationRow]) -> serde_json::Value {
    rows.iter()
        .map(|r| (r.role.as_str().to_owned(), json!({ "login_success": r.login_success, "login_failure": r.login_failure })))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// "When / From / Browser" lines; every value is cleaned of control characters, so nothing a
/// client sends can shape the message.
pub(crate) fn where_from(source: &Source, now: i64) -> String {
    let host = if source.host.is_empty() { String::new() } else { format!(" ({})", clean_field(&source.host)) };
    let mut out = format!("When: {}\nFrom: {}{host}\n", timestamp(now), clean_field(&source.ip));
    if !source.user_agent.is_empty() {
        out.push_str(&format!("Browser: {}\n", clean_field(&source.user_agent)));
    }
    out
}

fn minutes(seconds: i64) -> String {
    match seconds {
        s if s % 3600 == 0 => format!("{} hour(s)", s / 3600),
        s if s % 60 == 0 => format!("{} minute(s)", s / 60),
        s => format!("{s} seconds"),
    }
}

/// Checks an account's mail address as given by an administrator.
pub(crate) fn parse_address(raw: &str) -> Result<Option<String>, AppError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(EmailAddress::parse(raw)?.as_str().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_client_sends_cannot_shape_the_message() {
        let source = Source { ip: "203.0.113.7".into(), host: "evil\r\nBcc: x".into(), user_agent: "Mozilla\n\nClick https://evil.example".into() };
        let text = where_from(&source, 0);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.starts_with("When: 1970-01-01T00:00:00Z\nFrom: 203.0.113.7 (evil"), "{text}");
    }

    #[test]
    fn a_domain_overrides_the_server_per_role() {
        let rules = NotifyRules { login_success: vec![Role::User], login_failure: vec![Role::Agent], ..NotifyRules::default() };
        let rows = [NotificationRow { role: Role::Agent, login_success: true, login_failure: false }];
        let e = rules.effective(&rows);
        assert_eq!(e[0], RoleNotifications { role: Role::User, login_success: true, login_failure: false, own: false });
        assert_eq!(e[1], RoleNotifications { role: Role::Agent, login_success: true, login_failure: false, own: true });
        assert!(!e[3].login_success && !e[3].own);
    }
}
