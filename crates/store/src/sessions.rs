//! Server-side sessions, stored under the hash of their token.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{flag_of, Conn, Result, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub token_hash: String,
    pub account_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub expires_at: i64,
    pub source_ip: String,
    pub user_agent: String,
    pub password_change_required: bool,
    /// Seconds of inactivity after which the session ends.
    pub idle_seconds: i64,
    /// Asked to be remembered: the cookie outlives the browser.
    pub remembered: bool,
    /// The administrator acting for the account (id, login), when one opened the session.
    pub acting_admin: Option<(i64, String)>,
}

/// What checks an account's password, for [`SessionRow::delete_for_backend`].
#[derive(Debug, Clone, Copy)]
pub enum Bound<'a> {
    Local,
    Directory,
    Plugin(&'a str),
}

/// The INSERT of a session's 13 columns, without its closing parenthesis.
macro_rules! insert_session {
    () => {
        "INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, idle_expires_at, \
         expires_at, source_ip, user_agent, password_change_required, idle_seconds, remembered, acting_admin_id, acting_admin) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13"
    };
}

/// Binds a session's 13 columns as [`insert_session`] numbers them.
fn bind_session<'q>(q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>, s: &'q SessionRow) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(&s.token_hash)
        .bind(s.account_id)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.idle_expires_at)
        .bind(s.expires_at)
        .bind(&s.source_ip)
        .bind(&s.user_agent)
        .bind(i64::from(s.password_change_required))
        .bind(s.idle_seconds)
        .bind(i64::from(s.remembered))
        .bind(s.acting_admin.as_ref().map(|a| a.0))
        .bind(s.acting_admin.as_ref().map(|a| a.1.as_str()))
}

impl SessionRow {
    /// The session's public id: the first 16 hex digits of its token's hash. It names the
    /// session in lists and revocations and cannot be turned back into the token.
    pub fn id(&self) -> &str {
        self.token_hash.get(..16).unwrap_or(&self.token_hash)
    }
}

fn from_row(row: &AnyRow) -> Result<SessionRow> {
    Ok(SessionRow {
        token_hash: row.try_get("token_hash")?,
        account_id: row.try_get("account_id")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        idle_expires_at: row.try_get("idle_expires_at")?,
        expires_at: row.try_get("expires_at")?,
        source_ip: row.try_get("source_ip")?,
        user_agent: row.try_get("user_agent")?,
        password_change_required: flag_of(row, "password_change_required")?,
        idle_seconds: row.try_get("idle_seconds")?,
        remembered: flag_of(row, "remembered")?,
        acting_admin: match row.try_get::<Option<i64>, _>("acting_admin_id")? {
            Some(id) => Some((id, row.try_get::<Option<String>, _>("acting_admin")?.unwrap_or_default())),
            None => None,
        },
    })
}

impl SessionRow {
    pub async fn find(c: &mut Conn, token_hash: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT token_hash, account_id, created_at, last_seen_at, idle_expires_at, expires_at, \
             source_ip, user_agent, password_change_required, idle_seconds, remembered, acting_admin_id, acting_admin \
             FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(c)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn insert(tx: &mut Tx, s: &SessionRow) -> Result<()> {
        bind_session(sqlx::query(concat!(insert_session!(), ")")), s).execute(tx.conn()).await?;
        Ok(())
    }

    /// Inserts a login's session, records the login on its account and reads the account's
    /// groups for the login's answer, in one round trip.
    pub async fn insert_for_login(tx: &mut Tx, s: &SessionRow, now: i64) -> Result<Vec<(i64, String)>> {
        let sql = match tx.backend {
            crate::Backend::Sqlite => {
                concat!(insert_session!(), "); UPDATE accounts SET last_login_at = $14 WHERE id = $2; ", memberships!("$2"))
            }
            // Data-modifying CTEs run to completion whether or not the query reads them.
            crate::Backend::Postgres => concat!(
                "WITH s AS (",
                insert_session!(),
                ") RETURNING account_id), u AS (UPDATE accounts SET last_login_at = $14 FROM s WHERE accounts.id = s.account_id) ",
                memberships!("$2")
            ),
        };
        let rows = bind_session(sqlx::query(sql), s).bind(now).fetch_all(tx.conn()).await?;
        crate::groups::memberships_of(&rows)
    }

    /// Extends the idle deadline. Runs outside a transaction on purpose: it is bookkeeping, not
    /// a change a user made, and it must not take the write lock on every request.
    pub async fn touch(c: &mut Conn, token_hash: &str, now: i64, idle_expires_at: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1, idle_expires_at = $2 WHERE token_hash = $3")
            .bind(now)
            .bind(idle_expires_at)
            .bind(token_hash)
            .execute(c)
            .await?;
        Ok(())
    }

    pub async fn delete(tx: &mut Tx, token_hash: &str) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(tx.conn()).await?;
        Ok(())
    }

    /// Ends every session of an account (password change, disable, removal), and those it
    /// opened acting for others; returns how many.
    pub async fn delete_for_account(tx: &mut Tx, account_id: i64) -> Result<u64> {
        crate::auth_epoch::bump(tx).await?;
        let done = sqlx::query("DELETE FROM sessions WHERE account_id = $1 OR acting_admin_id = $1")
            .bind(account_id)
            .execute(tx.conn())
            .await?;
        Ok(done.rows_affected())
    }

    /// Ends the sessions an administrator opened acting for others (their role changed).
    pub async fn delete_acting(tx: &mut Tx, admin_id: i64) -> Result<u64> {
        crate::auth_epoch::bump(tx).await?;
        let done = sqlx::query("DELETE FROM sessions WHERE acting_admin_id = $1").bind(admin_id).execute(tx.conn()).await?;
        Ok(done.rows_affected())
    }

    /// Ends every session of every account of a domain (domain disabled), and those its
    /// administrators opened acting for others.
    pub async fn delete_for_domain(tx: &mut Tx, domain_id: i64) -> Result<u64> {
        crate::auth_epoch::bump(tx).await?;
        let done = sqlx::query(
            "DELETE FROM sessions WHERE account_id IN (SELECT id FROM accounts WHERE domain_id = $1) \
             OR acting_admin_id IN (SELECT id FROM accounts WHERE domain_id = $1)",
        )
        .bind(domain_id)
        .execute(tx.conn())
        .await?;
        Ok(done.rows_affected())
    }

    /// Ends the sessions of a domain's accounts bound to one back end (an order no longer
    /// lists it): local accounts, directory accounts, or those of `plugin`; returns how many.
    pub async fn delete_for_backend(tx: &mut Tx, domain_id: i64, backend: Bound<'_>) -> Result<u64> {
        crate::auth_epoch::bump(tx).await?;
        let (sql, plugin) = match backend {
            Bound::Local => (
                "DELETE FROM sessions WHERE account_id IN (SELECT id FROM accounts WHERE domain_id = $1 \
                 AND directory_dn IS NULL AND auth_plugin IS NULL AND $2 = $2)",
                "",
            ),
            Bound::Directory => (
                "DELETE FROM sessions WHERE account_id IN (SELECT id FROM accounts WHERE domain_id = $1 \
                 AND directory_dn IS NOT NULL AND $2 = $2)",
                "",
            ),
            Bound::Plugin(name) => (
                "DELETE FROM sessions WHERE account_id IN (SELECT id FROM accounts WHERE domain_id = $1 \
                 AND directory_dn IS NULL AND auth_plugin = $2)",
                name,
            ),
        };
        let done = sqlx::query(sql).bind(domain_id).bind(plugin).execute(tx.conn()).await?;
        Ok(done.rows_affected())
    }

    /// Live sessions with their account's login, newest first: of one account, or of all.
    pub async fn list(c: &mut Conn, account_id: Option<i64>, now: i64) -> Result<Vec<(SessionRow, String)>> {
        let rows = sqlx::query(
            "SELECT s.token_hash, s.account_id, s.created_at, s.last_seen_at, s.idle_expires_at, s.expires_at, \
             s.source_ip, s.user_agent, s.password_change_required, s.idle_seconds, s.remembered, \
             s.acting_admin_id, s.acting_admin, a.name || '@' || d.name AS login \
             FROM sessions s JOIN accounts a ON a.id = s.account_id JOIN domains d ON d.id = a.domain_id \
             WHERE (CAST($1 AS BIGINT) IS NULL OR s.account_id = $1) AND s.expires_at > $2 AND s.idle_expires_at > $2 \
             ORDER BY s.created_at DESC, s.token_hash",
        )
        .bind(account_id)
        .bind(now)
        .fetch_all(c)
        .await?;
        rows.iter().map(|r| Ok((from_row(r)?, r.try_get("login")?))).collect()
    }

    /// Ends the session whose public id is `id`, if it belongs to `account_id`; true if one ended.
    pub async fn delete_by_id(tx: &mut Tx, account_id: i64, id: &str) -> Result<bool> {
        crate::auth_epoch::bump(tx).await?;
        let done = sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND substr(token_hash, 1, 16) = $2")
            .bind(account_id)
            .bind(id)
            .execute(tx.conn())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn purge_expired(tx: &mut Tx, now: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR idle_expires_at <= $1")
            .bind(now)
            .execute(tx.conn())
            .await?;
        Ok(done.rows_affected())
    }
}
