//! A domain's directory connection (LDAP or Active Directory).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Result, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRow {
    pub domain_id: i64,
    pub url: String,
    pub security: String,
    pub preset: String,
    pub bind_dn: String,
    /// Search bases, one per line.
    pub base_dns: String,
    pub user_filter: String,
    pub login_attribute: String,
    pub mail_attribute: String,
    pub name_attribute: String,
    pub group_attribute: String,
    pub new_account_class_id: Option<i64>,
    /// Filled from the class on reads.
    pub new_account_class: Option<String>,
    pub ca_certificate: Option<String>,
    pub timeout_ms: i64,
    pub updated_at: i64,
    pub last_sync_at: Option<i64>,
}

/// A directory group kept in a Deskward group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapRow {
    /// The directory group's DN, as the group attribute names it.
    pub directory_group: String,
    pub group_id: i64,
    pub group: String,
}

fn from_row(row: &AnyRow) -> Result<DirectoryRow> {
    Ok(DirectoryRow {
        domain_id: row.try_get("domain_id")?,
        url: row.try_get("url")?,
        security: row.try_get("security")?,
        preset: row.try_get("preset")?,
        bind_dn: row.try_get("bind_dn")?,
        base_dns: row.try_get("base_dns")?,
        user_filter: row.try_get("user_filter")?,
        login_attribute: row.try_get("login_attribute")?,
        mail_attribute: row.try_get("mail_attribute")?,
        name_attribute: row.try_get("name_attribute")?,
        group_attribute: row.try_get("group_attribute")?,
        new_account_class_id: row.try_get("new_account_class_id")?,
        new_account_class: row.try_get("new_account_class")?,
        ca_certificate: row.try_get("ca_certificate")?,
        timeout_ms: row.try_get("timeout_ms")?,
        updated_at: row.try_get("updated_at")?,
        last_sync_at: row.try_get("last_sync_at")?,
    })
}

macro_rules! select {
    ($tail:literal) => {
        concat!("SELECT r.domain_id, r.url, r.security, r.preset, r.bind_dn, r.base_dns, r.user_filter, r.login_attribute, \
     r.mail_attribute, r.name_attribute, r.group_attribute, r.new_account_class_id, c.name AS new_account_class, \
     r.ca_certificate, r.timeout_ms, r.updated_at, r.last_sync_at \
     FROM directories r JOIN domains d ON d.id = r.domain_id LEFT JOIN user_classes c ON c.id = r.new_account_class_id", " ", $tail)
    };
}

impl DirectoryRow {
    pub async fn get(c: &mut Conn, domain_id: i64) -> Result<Option<DirectoryRow>> {
        let row = sqlx::query(select!("WHERE r.domain_id = $1")).bind(domain_id).fetch_optional(c).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The directory of the domain named `domain`, if it has one.
    pub async fn of_domain(c: &mut Conn, domain: &str) -> Result<Option<DirectoryRow>> {
        let row = sqlx::query(select!("WHERE d.name = $1")).bind(domain).fetch_optional(c).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn put(tx: &mut Tx, d: &DirectoryRow) -> Result<()> {
        // Logins keep these settings in memory (the app's login settings).
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("DELETE FROM directories WHERE domain_id = $1").bind(d.domain_id).execute(tx.conn()).await?;
        sqlx::query(
            "INSERT INTO directories (domain_id, url, security, preset, bind_dn, base_dns, user_filter, login_attribute, \
             mail_attribute, name_attribute, group_attribute, new_account_class_id, ca_certificate, timeout_ms, updated_at, last_sync_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(d.domain_id)
        .bind(&d.url)
        .bind(&d.security)
        .bind(&d.preset)
        .bind(&d.bind_dn)
        .bind(&d.base_dns)
        .bind(&d.user_filter)
        .bind(&d.login_attribute)
        .bind(&d.mail_attribute)
        .bind(&d.name_attribute)
        .bind(&d.group_attribute)
        .bind(d.new_account_class_id)
        .bind(&d.ca_certificate)
        .bind(d.timeout_ms)
        .bind(d.updated_at)
        .bind(d.last_sync_at)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    /// Removes the domain's directory; whether it had one.
    pub async fn remove(tx: &mut Tx, domain_id: i64) -> Result<bool> {
        // Logins keep these settings in memory (the app's login settings).
        crate::auth_epoch::bump(tx).await?;
        let done = sqlx::query("DELETE FROM directories WHERE domain_id = $1").bind(domain_id).execute(tx.conn()).await?;
        Ok(done.rows_affected() > 0)
    }

    /// The names of the domains that have a directory.
    pub async fn domains(c: &mut Conn) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT d.name FROM directories r JOIN domains d ON d.id = r.domain_id ORDER BY d.name").fetch_all(c).await?)
    }

    /// Notes when a sync finished.
    pub async fn synced(tx: &mut Tx, domain_id: i64, at: i64) -> Result<()> {
        sqlx::query("UPDATE directories SET last_sync_at = $1 WHERE domain_id = $2").bind(at).bind(domain_id).execute(tx.conn()).await?;
        Ok(())
    }
}

impl GroupMapRow {
    /// The domain's kept groups, by directory group.
    pub async fn of_domain(c: &mut Conn, domain_id: i64) -> Result<Vec<GroupMapRow>> {
        let rows = sqlx::query(
            "SELECT m.directory_group, m.group_id, g.name FROM directory_groups m JOIN account_groups g ON g.id = m.group_id \
             WHERE m.domain_id = $1 ORDER BY m.directory_group, g.name",
        )
        .bind(domain_id)
        .fetch_all(c)
        .await?;
        rows.iter()
            .map(|r| Ok(GroupMapRow { directory_group: r.try_get("directory_group")?, group_id: r.try_get("group_id")?, group: r.try_get("name")? }))
            .collect()
    }

    /// Replaces the domain's kept groups.
    pub async fn replace(tx: &mut Tx, domain_id: i64, map: &[(String, i64)]) -> Result<()> {
        // Logins keep these settings in memory (the app's login settings).
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("DELETE FROM directory_groups WHERE domain_id = $1").bind(domain_id).execute(tx.conn()).await?;
        for (directory_group, group_id) in map {
            sqlx::query("INSERT INTO directory_groups (domain_id, directory_group, group_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(domain_id)
                .bind(directory_group)
                .bind(group_id)
                .execute(tx.conn())
                .await?;
        }
        Ok(())
    }
}
