//! Domains: the tenants of one installation.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{flag_of, Conn, Result, Tx, conflict, new_id};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRow {
    pub id: i64,
    pub name: String,
    pub disabled: bool,
    pub created_at: i64,
    pub accounts: i64,
    /// Days audit records stay in the store; `None` keeps them forever.
    pub audit_retention_days: Option<i64>,
    /// Whether the domain's instant-messaging conversations are logged.
    pub im_logging: bool,
}

macro_rules! select {
    ($tail:literal) => {
        concat!("SELECT d.id, d.name, d.disabled, d.created_at, d.audit_retention_days, d.im_logging, \
     (SELECT COUNT(*) FROM accounts a WHERE a.domain_id = d.id) AS accounts FROM domains d", " ", $tail)
    };
}

fn from_row(row: &AnyRow) -> Result<DomainRow> {
    Ok(DomainRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        disabled: flag_of(row, "disabled")?,
        created_at: row.try_get("created_at")?,
        accounts: row.try_get("accounts")?,
        audit_retention_days: row.try_get("audit_retention_days")?,
        im_logging: flag_of(row, "im_logging")?,
    })
}

impl DomainRow {
    pub async fn find(c: &mut Conn, name: &str) -> Result<Option<DomainRow>> {
        let row = sqlx::query(select!("WHERE d.name = $1"))
            .bind(name)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn get(c: &mut Conn, id: i64) -> Result<Option<DomainRow>> {
        let row = sqlx::query(select!("WHERE d.id = $1")).bind(id).fetch_optional(c).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list(c: &mut Conn) -> Result<Vec<DomainRow>> {
        let rows = sqlx::query(select!("ORDER BY d.name")).fetch_all(c).await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn insert(tx: &mut Tx, name: &str, now: i64) -> Result<DomainRow> {
        let id = new_id();
        sqlx::query("INSERT INTO domains (id, name, disabled, created_at) VALUES ($1, $2, 0, $3)")
            .bind(id)
            .bind(name)
            .bind(now)
            .execute(tx.conn())
            .await
            .map_err(conflict(format!("domain {name}")))?;
        Ok(DomainRow { id, name: name.to_owned(), disabled: false, created_at: now, accounts: 0, audit_retention_days: None, im_logging: false })
    }

    pub async fn set_audit_retention(tx: &mut Tx, id: i64, days: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE domains SET audit_retention_days = $1 WHERE id = $2")
            .bind(days)
            .bind(id)
            .execute(tx.conn())
            .await?;
        Ok(())
    }

    pub async fn set_im_logging(tx: &mut Tx, id: i64, on: bool) -> Result<()> {
        sqlx::query("UPDATE domains SET im_logging = $1 WHERE id = $2")
            .bind(i64::from(on))
            .bind(id)
            .execute(tx.conn())
            .await?;
        Ok(())
    }

    pub async fn set_disabled(tx: &mut Tx, id: i64, disabled: bool) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("UPDATE domains SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(id)
            .execute(tx.conn())
            .await?;
        Ok(())
    }

    /// Removes the domain and, through the foreign keys, everything in it.
    pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("DELETE FROM domains WHERE id = $1").bind(id).execute(tx.conn()).await?;
        Ok(())
    }
}
