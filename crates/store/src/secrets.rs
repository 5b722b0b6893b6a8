//! Stored secrets and the record of the keys that sealed them. This module moves values as
//! they are; sealing and opening happen in the application (`app::secrets`).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Result, Tx};

/// One stored secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretRow {
    pub owner: String,
    pub field: String,
    /// The key that sealed `value`, or `None` when `value` is the clear text.
    pub key_id: Option<String>,
    pub value: String,
    pub updated_at: i64,
}

impl std::fmt::Debug for SecretRow {
    // The value may be clear text: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretRow").field("owner", &self.owner).field("field", &self.field).field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

fn secret(row: &AnyRow) -> Result<SecretRow> {
    Ok(SecretRow {
        owner: row.try_get("owner")?,
        field: row.try_get("field")?,
        key_id: row.try_get("key_id")?,
        value: row.try_get("value")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl SecretRow {
    pub async fn get(c: &mut Conn, owner: &str, field: &str) -> Result<Option<SecretRow>> {
        let row = sqlx::query("SELECT owner, field, key_id, value, updated_at FROM secrets WHERE owner = $1 AND field = $2")
            .bind(owner)
            .bind(field)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(secret).transpose()
    }

    /// Every secret; inside a transaction through `tx.conn()`, so a re-sealing sees exactly
    /// what it replaces.
    pub async fn all(c: &mut Conn) -> Result<Vec<SecretRow>> {
        let rows = sqlx::query("SELECT owner, field, key_id, value, updated_at FROM secrets ORDER BY owner, field").fetch_all(c).await?;
        rows.iter().map(secret).collect()
    }

    /// Stores `self`, replacing the secret of the same owner and field.
    pub async fn put(&self, tx: &mut Tx) -> Result<()> {
        // Logins keep the directory's bind password in memory (the app's login settings).
        crate::auth_epoch::bump(tx).await?;
        sqlx::query(
            "INSERT INTO secrets (owner, field, key_id, value, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (owner, field) DO UPDATE SET key_id = excluded.key_id, value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(&self.owner)
        .bind(&self.field)
        .bind(&self.key_id)
        .bind(&self.value)
        .bind(self.updated_at)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    /// Removes a secret; false when there was none.
    pub async fn remove(tx: &mut Tx, owner: &str, field: &str) -> Result<bool> {
        // Logins keep the directory's bind password in memory (the app's login settings).
        crate::auth_epoch::bump(tx).await?;
        let done = sqlx::query("DELETE FROM secrets WHERE owner = $1 AND field = $2").bind(owner).bind(field).execute(tx.conn()).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes every secret of `owner`; how many there were.
    pub async fn remove_owner(tx: &mut Tx, owner: &str) -> Result<u64> {
        // Logins keep the directory's bind password in memory (the app's login settings).
        crate::auth_epoch::bump(tx).await?;
        let done = sqlx::query("DELETE FROM secrets WHERE owner = $1").bind(owner).execute(tx.conn()).await?;
        Ok(done.rows_affected())
    }
}

impl crate::Store {
    /// Removes the old versions of changed secrets from the database's files: SQLite keeps
    /// replaced pages in its write-ahead log until a checkpoint (deleted content is already
    /// zeroed, `secure_delete`), PostgreSQL keeps dead rows until a vacuum. Call after a
    /// commit that replaced secrets; it may do nothing while other readers hold old pages.
    pub async fn scrub_secrets(&self) -> Result<()> {
        let mut c = self.conn().await?;
        let sql = match self.backend {
            crate::Backend::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
            crate::Backend::Postgres => "VACUUM secrets",
        };
        sqlx::raw_sql(sql).execute(&mut *c).await?;
        Ok(())
    }
}

/// A key that sealed secrets here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKeyRow {
    pub key_id: String,
    pub check_value: String,
    pub created_at: i64,
    /// `None` for the active key.
    pub retired_at: Option<i64>,
}

fn key(row: &AnyRow) -> Result<SecretKeyRow> {
    Ok(SecretKeyRow {
        key_id: row.try_get("key_id")?,
        check_value: row.try_get("check_value")?,
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
    })
}

impl SecretKeyRow {
    /// Every key, the newest first.
    pub async fn all(c: &mut Conn) -> Result<Vec<SecretKeyRow>> {
        let rows = sqlx::query("SELECT key_id, check_value, created_at, retired_at FROM secret_keys ORDER BY created_at DESC, key_id").fetch_all(c).await?;
        rows.iter().map(key).collect()
    }

    /// The key new secrets are sealed with; `None` while encryption is off. Inside a
    /// transaction through `tx.conn()`.
    pub async fn active(c: &mut Conn) -> Result<Option<SecretKeyRow>> {
        let row = sqlx::query("SELECT key_id, check_value, created_at, retired_at FROM secret_keys WHERE retired_at IS NULL").fetch_optional(c).await?;
        row.as_ref().map(key).transpose()
    }

    /// Makes `self` the active key (a key used before becomes active again), retiring any other.
    pub async fn activate(&self, tx: &mut Tx, now: i64) -> Result<()> {
        Self::retire_all(tx, now).await?;
        sqlx::query(
            "INSERT INTO secret_keys (key_id, check_value, created_at, retired_at) VALUES ($1, $2, $3, NULL) \
             ON CONFLICT (key_id) DO UPDATE SET retired_at = NULL",
        )
        .bind(&self.key_id)
        .bind(&self.check_value)
        .bind(self.created_at)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    /// Retires the active key, if any: encryption is off until a key is activated.
    pub async fn retire_all(tx: &mut Tx, now: i64) -> Result<()> {
        sqlx::query("UPDATE secret_keys SET retired_at = $1 WHERE retired_at IS NULL").bind(now).execute(tx.conn()).await?;
        Ok(())
    }
}
