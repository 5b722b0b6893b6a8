//! Groups of accounts within a domain.

use sqlx::Row;

use crate::{Conn, Result, Tx, conflict, new_id};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub id: i64,
    pub domain_id: i64,
    pub name: String,
    /// Member account names (without the domain), sorted.
    pub members: Vec<String>,
}

impl GroupRow {
    pub async fn find(c: &mut Conn, domain_id: i64, name: &str) -> Result<Option<GroupRow>> {
        let row = sqlx::query("SELECT id FROM account_groups WHERE domain_id = $1 AND name = $2")
            .bind(domain_id)
            .bind(name)
            .fetch_optional(&mut *c)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get("id")?;
        let members = members(c, id).await?;
        Ok(Some(GroupRow { id, domain_id, name: name.to_owned(), members }))
    }

    pub async fn list(c: &mut Conn, domain_id: i64) -> Result<Vec<GroupRow>> {
        let rows = sqlx::query("SELECT id, name FROM account_groups WHERE domain_id = $1 ORDER BY name")
            .bind(domain_id)
            .fetch_all(&mut *c)
            .await?;
        let mut groups = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let members = members(c, id).await?;
            groups.push(GroupRow { id, domain_id, name: row.try_get("name")?, members });
        }
        Ok(groups)
    }

    /// Names of the groups an account belongs to, sorted.
    pub async fn of_account(c: &mut Conn, account_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT g.name FROM account_groups g JOIN group_members m ON m.group_id = g.id \
             WHERE m.account_id = $1 ORDER BY g.name",
        )
        .bind(account_id)
        .fetch_all(c)
        .await?)
    }

    /// (id, name) of the groups an account belongs to, sorted by name.
    pub async fn memberships(c: &mut Conn, account_id: i64) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(memberships!("$1")).bind(account_id).fetch_all(c).await?;
        memberships_of(&rows)
    }

    pub async fn insert(tx: &mut Tx, domain_id: i64, name: &str) -> Result<i64> {
        let id = new_id();
        sqlx::query("INSERT INTO account_groups (id, domain_id, name) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(domain_id)
            .bind(name)
            .execute(tx.conn())
            .await
            .map_err(conflict(format!("group {name}")))?;
        Ok(id)
    }

    pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("DELETE FROM account_groups WHERE id = $1").bind(id).execute(tx.conn()).await?;
        sqlx::query("DELETE FROM item_grants WHERE principal = 'group' AND principal_id = $1").bind(id).execute(tx.conn()).await?;
        Ok(())
    }

    /// Adds a member; adding an existing member is not an error.
    pub async fn add_member(tx: &mut Tx, group_id: i64, account_id: i64) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        sqlx::query(
            "INSERT INTO group_members (group_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(group_id)
        .bind(account_id)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    /// Returns whether the account was a member.
    pub async fn remove_member(tx: &mut Tx, group_id: i64, account_id: i64) -> Result<bool> {
        crate::auth_epoch::bump(tx).await?;
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND account_id = $2")
            .bind(group_id)
            .bind(account_id)
            .execute(tx.conn())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

async fn members(c: &mut Conn, group_id: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT a.name FROM accounts a JOIN group_members m ON m.account_id = a.id \
         WHERE m.group_id = $1 ORDER BY a.name",
    )
    .bind(group_id)
    .fetch_all(c)
    .await?)
}

/// Reads the rows of [`memberships!`].
pub(crate) fn memberships_of(rows: &[sqlx::any::AnyRow]) -> Result<Vec<(i64, String)>> {
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("name")?))).collect()
}
