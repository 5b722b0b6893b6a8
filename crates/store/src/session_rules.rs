//! A domain's overrides of the server's session settings.

use sqlx::Row;

use crate::{Conn, Result, Tx};

/// `None` keeps the server's setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionRuleRow {
    pub users_idle: Option<i64>,
    pub users_absolute: Option<i64>,
    pub staff_idle: Option<i64>,
    pub staff_absolute: Option<i64>,
    pub remember_me: Option<bool>,
}

impl SessionRuleRow {
    /// The domain's overrides; all `None` when it has none.
    pub async fn get(c: &mut Conn, domain_id: i64) -> Result<SessionRuleRow> {
        let row = sqlx::query(
            "SELECT users_idle, users_absolute, staff_idle, staff_absolute, remember_me \
             FROM domain_session_rules WHERE domain_id = $1",
        )
        .bind(domain_id)
        .fetch_optional(c)
        .await?;
        let Some(row) = row else { return Ok(SessionRuleRow::default()) };
        Ok(SessionRuleRow {
            users_idle: row.try_get("users_idle")?,
            users_absolute: row.try_get("users_absolute")?,
            staff_idle: row.try_get("staff_idle")?,
            staff_absolute: row.try_get("staff_absolute")?,
            remember_me: row.try_get::<Option<i64>, _>("remember_me")?.map(|v| v != 0),
        })
    }

    pub async fn put(tx: &mut Tx, domain_id: i64, r: &SessionRuleRow) -> Result<()> {
        // Logins keep these settings in memory (the app's login settings).
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("DELETE FROM domain_session_rules WHERE domain_id = $1").bind(domain_id).execute(tx.conn()).await?;
        sqlx::query(
            "INSERT INTO domain_session_rules (domain_id, users_idle, users_absolute, staff_idle, staff_absolute, remember_me) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(domain_id)
        .bind(r.users_idle)
        .bind(r.users_absolute)
        .bind(r.staff_idle)
        .bind(r.staff_absolute)
        .bind(r.remember_me.map(i64::from))
        .execute(tx.conn())
        .await?;
        Ok(())
    }
}
