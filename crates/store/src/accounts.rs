//! Accounts, their password hashes and password history.

use deskward_core::Role;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{flag_of, Conn, Result, StoreError, Tx, conflict, new_id};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: i64,
    pub domain_id: i64,
    pub domain: String,
    pub domain_disabled: bool,
    pub name: String,
    pub role: Role,
    pub class_id: Option<i64>,
    pub class: Option<String>,
    pub disabled: bool,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<i64>,
    pub must_change_password: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    /// Where Deskward's mail to the account goes; `None` means its login address.
    pub email: Option<String>,
    /// The directory entry the account authenticates against; `None` for a local account.
    pub directory_dn: Option<String>,
    /// A sync blocked it: its entry was removed or disabled in the directory.
    pub directory_blocked: bool,
    /// (plugin, id there) for an account an authentication plugin made; `None` otherwise.
    pub auth_plugin: Option<(String, String)>,
}

impl AccountRow {
    pub fn login(&self) -> String {
        format!("{}@{}", self.name, self.domain)
    }
}

#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub domain_id: i64,
    pub name: &'a str,
    pub role: Role,
    pub class_id: Option<i64>,
    pub password_hash: Option<&'a str>,
    pub must_change_password: bool,
    /// Set for an account made at its first directory login.
    pub directory_dn: Option<&'a str>,
    /// (plugin, id there), for an account made at its first login through a plugin.
    pub auth_plugin: Option<(&'a str, &'a str)>,
}

macro_rules! select {
    ($tail:literal) => {
        concat!("SELECT a.id, a.domain_id, d.name AS domain, d.disabled AS domain_disabled, \
     a.name, a.role, a.class_id, c.name AS class, a.disabled, a.password_hash, \
     a.password_changed_at, a.must_change_password, a.created_at, a.last_login_at, a.email, a.directory_dn, a.directory_blocked, a.auth_plugin, a.auth_plugin_id \
     FROM accounts a JOIN domains d ON d.id = a.domain_id \
     LEFT JOIN user_classes c ON c.id = a.class_id", " ", $tail)
    };
}

fn from_row(row: &AnyRow) -> Result<AccountRow> {
    let role: String = row.try_get("role")?;
    Ok(AccountRow {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        domain: row.try_get("domain")?,
        domain_disabled: flag_of(row, "domain_disabled")?,
        name: row.try_get("name")?,
        role: role.parse().map_err(|e| StoreError::Corrupt { what: "account role", detail: format!("{e}") })?,
        class_id: row.try_get("class_id")?,
        class: row.try_get("class")?,
        disabled: flag_of(row, "disabled")?,
        password_hash: row.try_get("password_hash")?,
        password_changed_at: row.try_get("password_changed_at")?,
        must_change_password: flag_of(row, "must_change_password")?,
        created_at: row.try_get("created_at")?,
        last_login_at: row.try_get("last_login_at")?,
        email: row.try_get("email")?,
        directory_dn: row.try_get("directory_dn")?,
        directory_blocked: flag_of(row, "directory_blocked")?,
        auth_plugin: row.try_get::<Option<String>, _>("auth_plugin")?.zip(row.try_get::<Option<String>, _>("auth_plugin_id")?),
    })
}

impl AccountRow {
    pub async fn find(c: &mut Conn, domain: &str, name: &str) -> Result<Option<AccountRow>> {
        let row = sqlx::query(select!("WHERE d.name = $1 AND a.name = $2"))
            .bind(domain)
            .bind(name)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// [`AccountRow::find`] and the authentication epoch, read in one statement: a login
    /// checks its cached domain settings against the epoch at no extra round trip.
    pub async fn find_at_epoch(c: &mut Conn, domain: &str, name: &str) -> Result<(Option<AccountRow>, i64)> {
        let row = sqlx::query(concat!(
            "SELECT e.value AS auth_epoch, x.* FROM auth_epoch e LEFT JOIN (",
            select!("WHERE d.name = $1 AND a.name = $2"),
            ") x ON 1 = 1 WHERE e.id = 1"
        ))
        .bind(domain)
        .bind(name)
        .fetch_one(c)
        .await?;
        let epoch: i64 = row.try_get("auth_epoch")?;
        let account = match row.try_get::<Option<i64>, _>("id")? {
            Some(_) => Some(from_row(&row)?),
            None => None,
        };
        Ok((account, epoch))
    }

    pub async fn get(c: &mut Conn, id: i64) -> Result<Option<AccountRow>> {
        let row = sqlx::query(select!("WHERE a.id = $1")).bind(id).fetch_optional(c).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list(c: &mut Conn, domain_id: i64) -> Result<Vec<AccountRow>> {
        let rows = sqlx::query(select!("WHERE a.domain_id = $1 ORDER BY a.name"))
            .bind(domain_id)
            .fetch_all(c)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Accounts with `role` that can log in: enabled, in an enabled domain, other than `except`.
    pub async fn count_role(c: &mut Conn, role: Role) -> Result<i64> {
        Self::count_role_outside(c, role, -1).await
    }

    /// Like [`AccountRow::count_role`], leaving out the accounts of domain `domain_id`.
    pub async fn count_role_outside(c: &mut Conn, role: Role, domain_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM accounts a JOIN domains d ON d.id = a.domain_id \
             WHERE a.role = $1 AND a.disabled = 0 AND d.disabled = 0 AND a.domain_id <> $2",
        )
        .bind(role.as_str())
        .bind(domain_id)
        .fetch_one(c)
        .await?)
    }

    pub async fn insert(tx: &mut Tx, new: &NewAccount<'_>, now: i64) -> Result<i64> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO accounts (id, domain_id, name, role, class_id, disabled, password_hash, \
             password_changed_at, must_change_password, created_at, directory_dn, auth_plugin, auth_plugin_id) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(new.domain_id)
        .bind(new.name)
        .bind(new.role.as_str())
        .bind(new.class_id)
        .bind(new.password_hash)
        .bind(new.password_hash.map(|_| now))
        .bind(i64::from(new.must_change_password))
        .bind(now)
        .bind(new.directory_dn)
        .bind(new.auth_plugin.map(|p| p.0))
        .bind(new.auth_plugin.map(|p| p.1))
        .execute(tx.conn())
        .await
        .map_err(conflict(format!("account {}", new.name)))?;
        Ok(id)
    }

    pub async fn set_role(tx: &mut Tx, id: i64, role: Role) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        exec(tx, "UPDATE accounts SET role = $1 WHERE id = $2", role.as_str(), id).await
    }

    pub async fn set_class(tx: &mut Tx, id: i64, class_id: Option<i64>) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("UPDATE accounts SET class_id = $1 WHERE id = $2")
            .bind(class_id)
            .bind(id)
            .execute(tx.conn())
            .await?;
        Ok(())
    }

    pub async fn set_disabled(tx: &mut Tx, id: i64, disabled: bool) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        // An administrator's decision replaces a block by the directory.
        exec(tx, "UPDATE accounts SET disabled = $1, directory_blocked = 0 WHERE id = $2", i64::from(disabled), id).await
    }

    /// Blocks an account for its directory (disabled, and marked as the directory's block), or
    /// lifts such a block.
    pub async fn set_directory_blocked(tx: &mut Tx, id: i64, blocked: bool) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("UPDATE accounts SET disabled = $1, directory_blocked = $1 WHERE id = $2").bind(i64::from(blocked)).bind(id).execute(tx.conn()).await?;
        Ok(())
    }

    pub async fn set_email(tx: &mut Tx, id: i64, email: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE accounts SET email = $1 WHERE id = $2").bind(email).bind(id).execute(tx.conn()).await?;
        Ok(())
    }

    /// Enabled system administrators in enabled domains: who is told about bans.
    pub async fn system_admins(c: &mut Conn) -> Result<Vec<AccountRow>> {
        let rows = sqlx::query(select!("WHERE a.role = 'system-admin' AND a.disabled = 0 AND d.disabled = 0 ORDER BY d.name, a.name"))
            .fetch_all(c)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn set_must_change(tx: &mut Tx, id: i64, must: bool) -> Result<()> {
        exec(tx, "UPDATE accounts SET must_change_password = $1 WHERE id = $2", i64::from(must), id).await
    }

    /// Replaces the password hash; the old one moves to the history when `keep_history`.
    /// Addresses the account trusted (confirmed outside an allow-list) are forgotten: whoever
    /// had the old password may have confirmed one.
    pub async fn set_password(
        tx: &mut Tx,
        id: i64,
        hash: &str,
        must_change: bool,
        keep_history: bool,
        now: i64,
    ) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        if keep_history {
            sqlx::query(
                "INSERT INTO password_history (account_id, password_hash, retired_at) \
                 SELECT id, password_hash, $1 FROM accounts WHERE id = $2 AND password_hash IS NOT NULL",
            )
            .bind(now)
            .bind(id)
            .execute(tx.conn())
            .await?;
        }
        sqlx::query(
            "UPDATE accounts SET password_hash = $1, password_changed_at = $2, \
             must_change_password = $3 WHERE id = $4",
        )
        .bind(hash)
        .bind(now)
        .bind(i64::from(must_change))
        .bind(id)
        .execute(tx.conn())
        .await?;
        crate::allow_lists::forget_trusted(tx, id).await?;
        Ok(())
    }

    /// Swaps in a re-hash of the same password (new parameters or legacy upgrade) only if the
    /// stored hash is still the one that was verified, so a concurrent change is never undone.
    pub async fn upgrade_hash(tx: &mut Tx, id: i64, old: &str, new: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
            .bind(new)
            .bind(id)
            .bind(old)
            .execute(tx.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The hashes of the current and the last `n - 1` retired passwords, newest first.
    pub async fn recent_hashes(c: &mut Conn, id: i64, n: u32) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT password_hash FROM password_history WHERE account_id = $1 \
             ORDER BY retired_at DESC LIMIT $2",
        )
        .bind(id)
        .bind(i64::from(n))
        .fetch_all(c)
        .await?)
    }

    pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("DELETE FROM accounts WHERE id = $1").bind(id).execute(tx.conn()).await?;
        // Grants to a removed account name no one; ids are never reused, but a grant list
        // should show only live names.
        sqlx::query("DELETE FROM item_grants WHERE principal = 'account' AND principal_id = $1").bind(id).execute(tx.conn()).await?;
        Ok(())
    }
}

async fn exec<T>(tx: &mut Tx, sql: &'static str, value: T, id: i64) -> Result<()>
where
    T: 'static + sqlx::Encode<'static, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
{
    sqlx::query(sql).bind(value).bind(id).execute(tx.conn()).await?;
    Ok(())
}
