//! Listing and ending sessions: an account's owner sees and ends their own; an administrator
//! those of the accounts they administer; the operator every session.

use deskward_core::audit::Record;
use deskward_store::audit::Filter;
use deskward_store::{AccountRow, SessionRow};
use serde_json::json;

use crate::accounts::{administered_account, visible_account};
use crate::{App, AppError, Authenticated, Caller};

/// A session as listed, with its account's login.
#[derive(Debug, Clone)]
pub struct SessionEntry {
    pub session: SessionRow,
    pub login: String,
    /// The host name of the session's address, when it is known (cached, never looked up here).
    pub host: String,
}

impl App {
    /// The caller's recent logins and failed or refused attempts on their account, newest
    /// first, from their domain's audit chain.
    pub async fn my_recent_logins(&self, auth: &Authenticated, limit: i64) -> Result<Vec<Record>, AppError> {
        let filter = Filter {
            chain: Some(auth.account.domain.clone()),
            user: Some(auth.account.login()),
            action: Some("login".into()),
            limit: limit.clamp(1, 200),
            ..Filter::default()
        };
        let mut c = self.store.conn().await?;
        Ok(deskward_store::audit::search(&mut c, &filter).await?)
    }

    /// The caller's own live sessions, newest first.
    pub async fn my_sessions(&self, auth: &Authenticated) -> Result<Vec<SessionEntry>, AppError> {
        let mut c = self.store.conn().await?;
        let rows = SessionRow::list(&mut c, Some(auth.account.id), self.now()).await?;
        Ok(rows.into_iter().map(|(session, login)| self.session_entry(session, login)).collect())
    }

    /// Live sessions of `login`, or of everyone (`None`: system admins and the operator).
    pub async fn sessions(&self, caller: &Caller, login: Option<&str>) -> Result<Vec<SessionEntry>, AppError> {
        let mut c = self.store.conn().await?;
        let account = match login {
            Some(login) => Some(visible_account(&mut c, &caller.actor, login).await?.1.id),
            None => {
                caller.actor.may_manage_domains("list every session")?;
                None
            }
        };
        let rows = SessionRow::list(&mut c, account, self.now()).await?;
        Ok(rows.into_iter().map(|(session, login)| self.session_entry(session, login)).collect())
    }

    fn session_entry(&self, session: SessionRow, login: String) -> SessionEntry {
        let host = self.host_names.cached(&session.source_ip);
        SessionEntry { session, login, host }
    }

    /// Ends the caller's own session `id`.
    pub async fn end_my_session(&self, caller: &Caller, auth: &Authenticated, id: &str) -> Result<(), AppError> {
        self.end_sessions(caller, &auth.account, Some(id)).await.map(|_| ())
    }

    /// Ends session `id` of `login`, or all of its sessions; returns how many ended.
    pub async fn revoke_sessions(&self, caller: &Caller, login: &str, id: Option<&str>) -> Result<u64, AppError> {
        let mut c = self.store.conn().await?;
        let (_, account) = administered_account(&mut c, &caller.actor, login).await?;
        drop(c);
        self.end_sessions(caller, &account, id).await
    }

    /// Ends the session with public id `id`, whoever's it is (the operator's `session revoke ID`).
    pub async fn revoke_session_by_id(&self, caller: &Caller, id: &str) -> Result<String, AppError> {
        caller.actor.may_manage_domains("end any session")?;
        let mut c = self.store.conn().await?;
        let all = SessionRow::list(&mut c, None, self.now()).await?;
        drop(c);
        let (_, login) = all.into_iter().find(|(s, _)| s.id() == id).ok_or_else(|| AppError::NotFound(format!("session {id}")))?;
        self.revoke_sessions(caller, &login, Some(id)).await?;
        Ok(login)
    }

    async fn end_sessions(&self, caller: &Caller, account: &AccountRow, id: Option<&str>) -> Result<u64, AppError> {
        if let Some(id) = id
            && (id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        {
            return Err(AppError::Invalid(format!("invalid session id {:?}: 16 lowercase hex digits", id.chars().take(40).collect::<String>())));
        }
        let mut tx = self.store.begin().await?;
        let ended = match id {
            Some(id) => u64::from(SessionRow::delete_by_id(&mut tx, account.id, id).await?),
            None => SessionRow::delete_for_account(&mut tx, account.id).await?,
        };
        if ended == 0 && id.is_some() {
            return Err(AppError::NotFound(format!("session {}", id.unwrap_or_default())));
        }
        let login = account.login();
        let summary = json!({ "session": id, "ended": ended });
        tx.commit(self.entry(caller, &account.domain, "session.revoke", format!("account:{login}"), summary)).await?;
        self.auth_cache.clear();
        Ok(ended)
    }
}
