//! An administrator acting for an account (docs/impersonation.md): a short session of the
//! account that names the administrator, so every record written in it says who really acted.

use deskward_core::authz::Actor;
use deskward_core::audit::clean_field;
use deskward_store::{SessionRow, SessionRuleRow};
use serde_json::json;

use crate::accounts::administered_account;
use crate::{App, AppError, Caller, LoginOutcome};

/// An impersonation session ends this long after it began, whatever happens.
pub const IMPERSONATION_ABSOLUTE: i64 = 3600;
/// …and after this long without a request.
pub const IMPERSONATION_IDLE: i64 = 900;
/// The longest reason an administrator may give.
pub const MAX_REASON: usize = 200;

impl App {
    /// Opens a session of `login` for the calling administrator, who must administer its
    /// domain and hold a higher role; `reason` goes into the audit record. The caller's own
    /// session carries on.
    pub async fn impersonate(&self, caller: &Caller, login: &str, reason: &str) -> Result<LoginOutcome, AppError> {
        let Actor::Account { account_id: admin_id, role: admin_role, .. } = caller.actor else {
            return Err(AppError::Forbidden("only an administrator's session can act for an account".into()));
        };
        if caller.acting.is_some() {
            return Err(AppError::Forbidden("a session acting for an account cannot act for another; end it first".into()));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(AppError::Invalid(format!("say why you act for the account, in 1 to {MAX_REASON} characters")));
        }
        let reason = clean_field(reason);
        let mut tx = self.store.begin().await?;
        let (domain, account) = administered_account(tx.conn(), &caller.actor, login).await?;
        if account.id == admin_id {
            return Err(AppError::Invalid("you cannot act for your own account".into()));
        }
        if account.role >= admin_role {
            return Err(AppError::Forbidden(format!("an administrator may act only for accounts below their own role; {} is {}", account.login(), account.role.as_str())));
        }
        if account.disabled || account.domain_disabled {
            return Err(AppError::AccountDisabled);
        }
        // The session is the account's: its role's networks apply as they would to a login.
        self.may_work_from(account.role, &caller.source.ip)?;
        let rules = SessionRuleRow::get(tx.conn(), domain.id).await?;
        let (token, mut session) = self.new_session(&account, &rules, &caller.source, false, false);
        session.expires_at = session.expires_at.min(session.created_at + IMPERSONATION_ABSOLUTE);
        session.idle_seconds = session.idle_seconds.min(IMPERSONATION_IDLE);
        session.idle_expires_at = (session.created_at + session.idle_seconds).min(session.expires_at);
        session.acting_admin = Some((admin_id, caller.name.clone()));
        SessionRow::insert(&mut tx, &session).await?;
        // The owner hears of it as of a new session of theirs, where their domain mails those.
        if self.notifications_for(tx.conn(), domain.id, account.role).await?.login_success {
            self.queue_impersonation_mail(&mut tx, &account, &caller.name, &reason, &session).await?;
        }
        let summary = json!({
            "reason": reason,
            "session": session.id(),
            "expires_at": deskward_core::audit::timestamp(session.expires_at),
        });
        tx.commit(self.entry(caller, &domain.name, "login.impersonation", format!("account:{}", account.login()), summary)).await?;
        Ok(LoginOutcome { token, session, account, memberships: None })
    }
}
