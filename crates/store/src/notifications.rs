//! A domain's choice of which roles are mailed about logins.

use deskward_core::Role;
use sqlx::Row;

use crate::{Conn, Result, StoreError, Tx, flag_of};

/// One role's switches in one domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationRow {
    pub role: Role,
    pub login_success: bool,
    pub login_failure: bool,
}

impl NotificationRow {
    /// The domain's rows; roles without one keep the server's setting.
    pub async fn get(c: &mut Conn, domain_id: i64) -> Result<Vec<NotificationRow>> {
        let rows = sqlx::query("SELECT role, login_success, login_failure FROM domain_notifications WHERE domain_id = $1 ORDER BY role")
            .bind(domain_id)
            .fetch_all(c)
            .await?;
        rows.iter()
            .map(|row| {
                let role: String = row.try_get("role")?;
                Ok(NotificationRow {
                    role: role.parse().map_err(|e| StoreError::Corrupt { what: "notification role", detail: format!("{e}") })?,
                    login_success: flag_of(row, "login_success")?,
                    login_failure: flag_of(row, "login_failure")?,
                })
            })
            .collect()
    }

    /// Replaces the domain's rows.
    pub async fn put(tx: &mut Tx, domain_id: i64, rows: &[NotificationRow]) -> Result<()> {
        // Logins keep these settings in memory (the app's login settings).
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("DELETE FROM domain_notifications WHERE domain_id = $1").bind(domain_id).execute(tx.conn()).await?;
        for r in rows {
            sqlx::query("INSERT INTO domain_notifications (domain_id, role, login_success, login_failure) VALUES ($1, $2, $3, $4)")
                .bind(domain_id)
                .bind(r.role.as_str())
                .bind(i64::from(r.login_success))
                .bind(i64::from(r.login_failure))
                .execute(tx.conn())
                .await?;
        }
        Ok(())
    }
}
