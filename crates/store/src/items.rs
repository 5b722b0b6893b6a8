//! Folders and documents ("items"), their grants, versions and the usage charged to owners.
//! The rules (who may do what, names, quotas) live in `core` and `app`; this is their storage.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Result, Tx, conflict, new_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Folder,
    Document,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Folder => "folder",
            ItemKind::Document => "document",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRow {
    pub id: i64,
    pub domain_id: i64,
    /// 0 at the top level.
    pub parent_id: i64,
    pub kind: ItemKind,
    pub name: String,
    pub owner_id: i64,
    /// `name@domain`; `None` once the owner's account is removed.
    pub owner: Option<String>,
    pub inherit: bool,
    pub has_link: bool,
    pub has_password: bool,
    pub current_version: Option<i64>,
    pub size: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One item of an ancestor chain, with what access decisions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    pub id: i64,
    pub parent_id: i64,
    pub owner_id: i64,
    pub inherit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    pub item_id: i64,
    /// `account`, `group`, `domain`, `all-domains`, `public` or `password`.
    pub principal: String,
    /// The account or group id; 0 for the other principals.
    pub principal_id: i64,
    pub rights: i64,
    /// The account's login or the group's name, for display.
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    pub id: i64,
    pub item_id: i64,
    pub number: i64,
    pub size: i64,
    pub sha256: String,
    pub author: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewItem<'a> {
    pub domain_id: i64,
    pub parent_id: i64,
    pub kind: ItemKind,
    pub name: &'a str,
    pub name_key: &'a str,
    pub owner_id: i64,
    pub now: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub bytes: i64,
    pub documents: i64,
}

/// A subtree member, for deletions: what its removal gives back to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtreeItem {
    pub id: i64,
    pub kind: ItemKind,
    pub owner_id: i64,
    /// Levels below the subtree's top (0 for the top itself).
    pub depth: i64,
    /// Bytes of all its versions.
    pub bytes: i64,
    pub version_ids: Vec<i64>,
}

/// Bound on the depth of recursive walks; the app refuses deeper trees long before this.
const MAX_WALK: i64 = 256;

macro_rules! select_item {
    ($tail:literal) => {
        concat!(
            "SELECT i.id, i.domain_id, i.parent_id, i.kind, i.name, i.owner_id, i.inherit, i.link_hash, \
             i.share_password, i.current_version, i.size, i.created_at, i.updated_at, \
             a.name || '@' || d.name AS owner \
             FROM items i LEFT JOIN accounts a ON a.id = i.owner_id LEFT JOIN domains d ON d.id = a.domain_id ",
            $tail
        )
    };
}

fn kind_of(text: &str) -> Result<ItemKind> {
    match text {
        "folder" => Ok(ItemKind::Folder),
        "document" => Ok(ItemKind::Document),
        other => Err(crate::StoreError::Corrupt { what: "item kind", detail: other.to_owned() }),
    }
}

fn item(row: &AnyRow) -> Result<ItemRow> {
    Ok(ItemRow {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        parent_id: row.try_get("parent_id")?,
        kind: kind_of(&row.try_get::<String, _>("kind")?)?,
        name: row.try_get("name")?,
        owner_id: row.try_get("owner_id")?,
        owner: row.try_get("owner")?,
        inherit: row.try_get::<i64, _>("inherit")? != 0,
        has_link: row.try_get::<Option<String>, _>("link_hash")?.is_some(),
        has_password: row.try_get::<Option<String>, _>("share_password")?.is_some(),
        current_version: row.try_get("current_version")?,
        size: row.try_get("size")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl ItemRow {
    pub async fn get(c: &mut Conn, id: i64) -> Result<Option<ItemRow>> {
        let row = sqlx::query(select_item!("WHERE i.id = $1")).bind(id).fetch_optional(c).await?;
        row.as_ref().map(item).transpose()
    }

    /// The item a share link opens, by the token's hash.
    pub async fn by_link(c: &mut Conn, link_hash: &str) -> Result<Option<ItemRow>> {
        let row = sqlx::query(select_item!("WHERE i.link_hash = $1")).bind(link_hash).fetch_optional(c).await?;
        row.as_ref().map(item).transpose()
    }

    /// A folder's content, folders first, then by name.
    pub async fn children(c: &mut Conn, parent_id: i64) -> Result<Vec<ItemRow>> {
        let rows = sqlx::query(select_item!("WHERE i.parent_id = $1 ORDER BY i.kind DESC, i.name_key"))
            .bind(parent_id)
            .fetch_all(c)
            .await?;
        rows.iter().map(item).collect()
    }

    /// An account's own top-level items.
    pub async fn top_level(c: &mut Conn, domain_id: i64, owner_id: i64) -> Result<Vec<ItemRow>> {
        let rows = sqlx::query(select_item!(
            "WHERE i.domain_id = $1 AND i.parent_id = 0 AND i.owner_id = $2 ORDER BY i.kind DESC, i.name_key"
        ))
        .bind(domain_id)
        .bind(owner_id)
        .fetch_all(c)
        .await?;
        rows.iter().map(item).collect()
    }

    /// Every top-level item of a domain, whoever owns it (for its administrators).
    pub async fn top_level_of_domain(c: &mut Conn, domain_id: i64, limit: i64) -> Result<Vec<ItemRow>> {
        let rows = sqlx::query(select_item!("WHERE i.domain_id = $1 AND i.parent_id = 0 ORDER BY i.kind DESC, i.name_key, i.id LIMIT $2"))
            .bind(domain_id)
            .bind(limit)
            .fetch_all(c)
            .await?;
        rows.iter().map(item).collect()
    }

    /// Items someone else owns with a grant naming the account, one of its groups, its
    /// domain or every domain: the candidates for "shared with me" (the app decides).
    pub async fn granted_to(c: &mut Conn, account_id: i64, domain_id: i64, limit: i64) -> Result<Vec<ItemRow>> {
        let rows = sqlx::query(select_item!(
            "WHERE i.owner_id <> $1 AND i.id IN (SELECT g.item_id FROM item_grants g WHERE \
             (g.principal = 'account' AND g.principal_id = $1) \
             OR (g.principal = 'group' AND g.principal_id IN (SELECT m.group_id FROM group_members m WHERE m.account_id = $1)) \
             OR (g.principal = 'domain' AND g.item_id IN (SELECT x.id FROM items x WHERE x.domain_id = $2)) \
             OR g.principal = 'all-domains') \
             ORDER BY i.name_key LIMIT $3"
        ))
        .bind(account_id)
        .bind(domain_id)
        .bind(limit)
        .fetch_all(c)
        .await?;
        rows.iter().map(item).collect()
    }

    pub async fn insert(tx: &mut Tx, new: &NewItem<'_>) -> Result<i64> {
        let id = new_id();
        let scope = if new.parent_id == 0 { new.owner_id } else { 0 };
        sqlx::query(
            "INSERT INTO items (id, domain_id, parent_id, scope, kind, name, name_key, owner_id, inherit, size, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, 0, $9, $9)",
        )
        .bind(id)
        .bind(new.domain_id)
        .bind(new.parent_id)
        .bind(scope)
        .bind(new.kind.as_str())
        .bind(new.name)
        .bind(new.name_key)
        .bind(new.owner_id)
        .bind(new.now)
        .execute(tx.conn())
        .await
        .map_err(conflict(format!("an item named {:?} in that folder", new.name)))?;
        Ok(id)
    }

    /// Renames and moves at once (`parent_id` 0: to the owner's top level).
    pub async fn place(tx: &mut Tx, id: i64, owner_id: i64, parent_id: i64, name: &str, name_key: &str, now: i64) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        let scope = if parent_id == 0 { owner_id } else { 0 };
        sqlx::query("UPDATE items SET parent_id = $2, scope = $3, name = $4, name_key = $5, updated_at = $6 WHERE id = $1")
            .bind(id)
            .bind(parent_id)
            .bind(scope)
            .bind(name)
            .bind(name_key)
            .bind(now)
            .execute(tx.conn())
            .await
            .map_err(conflict(format!("an item named {name:?} in that folder")))?;
        Ok(())
    }

    pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("DELETE FROM items WHERE id = $1").bind(id).execute(tx.conn()).await?;
        Ok(())
    }

    pub async fn set_link(tx: &mut Tx, id: i64, link_hash: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE items SET link_hash = $2 WHERE id = $1").bind(id).bind(link_hash).execute(tx.conn()).await?;
        Ok(())
    }

    pub async fn set_share_password(tx: &mut Tx, id: i64, hash: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE items SET share_password = $2 WHERE id = $1").bind(id).bind(hash).execute(tx.conn()).await?;
        Ok(())
    }

    pub async fn share_password(c: &mut Conn, id: i64) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT share_password FROM items WHERE id = $1").bind(id).fetch_optional(c).await?.flatten())
    }
}

/// Takes the domain's item lock for the rest of the transaction (see migration 0012).
pub async fn lock_domain(tx: &mut Tx, domain_id: i64) -> Result<()> {
    sqlx::query("INSERT INTO item_locks (domain_id, changes) VALUES ($1, 0) ON CONFLICT (domain_id) DO NOTHING")
        .bind(domain_id)
        .execute(tx.conn())
        .await?;
    sqlx::query("UPDATE item_locks SET changes = changes + 1 WHERE domain_id = $1").bind(domain_id).execute(tx.conn()).await?;
    Ok(())
}

/// The domain of an item, if it exists.
pub async fn domain_of(c: &mut Conn, id: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT domain_id FROM items WHERE id = $1").bind(id).fetch_optional(c).await?)
}

/// `up`: item `$1` and its ancestors with their depth, bounded by `$2`; then `$tail`.
macro_rules! ancestors {
    ($tail:expr) => {
        concat!(
            "WITH RECURSIVE up (id, depth) AS ( \
               SELECT CAST($1 AS BIGINT), 0 \
               UNION ALL SELECT i.parent_id, up.depth + 1 FROM items i JOIN up ON i.id = up.id \
               WHERE i.parent_id <> 0 AND up.depth < $2) ",
            $tail
        )
    };
}

/// The grants `g` that can match account `$account` (0: nobody logged in): the domain-wide and
/// link grants, and those naming the account or one of its groups.
macro_rules! matching {
    ($account:literal) => {
        concat!(
            "(g.principal IN ('domain', 'all-domains', 'public', 'password') \
             OR (g.principal = 'account' AND g.principal_id = ", $account, ") \
             OR (g.principal = 'group' AND g.principal_id IN (SELECT m.group_id FROM group_members m WHERE m.account_id = ",
            $account,
            ")))"
        )
    };
}

/// The item and its ancestors, nearest first (empty for an unknown id).
pub async fn chain(c: &mut Conn, id: i64) -> Result<Vec<ChainLink>> {
    let rows = sqlx::query(
        ancestors!("SELECT i.id, i.parent_id, i.owner_id, i.inherit FROM items i JOIN up ON i.id = up.id ORDER BY up.depth"),
    )
    .bind(id)
    .bind(MAX_WALK)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ChainLink {
                id: r.try_get("id")?,
                parent_id: r.try_get("parent_id")?,
                owner_id: r.try_get("owner_id")?,
                inherit: r.try_get::<i64, _>("inherit")? != 0,
            })
        })
        .collect()
}

fn grant(r: &AnyRow) -> Result<GrantRow> {
    Ok(GrantRow {
        item_id: r.try_get("item_id")?,
        principal: r.try_get("principal")?,
        principal_id: r.try_get("principal_id")?,
        rights: r.try_get("rights")?,
        name: r.try_get("name")?,
    })
}

/// The grants of an item and its ancestors that can match `account_id` (0: nobody logged in):
/// the domain-wide and link grants, and those naming the account or one of its groups.
pub async fn chain_grants_for(c: &mut Conn, id: i64, account_id: i64) -> Result<Vec<GrantRow>> {
    let rows = sqlx::query(
        ancestors!(concat!(
            "SELECT g.item_id, g.principal, g.principal_id, g.rights, CAST(NULL AS TEXT) AS name \
             FROM item_grants g JOIN up ON g.item_id = up.id WHERE ",
            matching!("$3")
        )),
    )
    .bind(id)
    .bind(MAX_WALK)
    .bind(account_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(grant).collect()
}

/// The grants on a folder's children that can match `account_id`, as [`chain_grants_for`]
/// picks them: one query for a whole listing.
pub async fn children_grants_for(c: &mut Conn, parent_id: i64, account_id: i64) -> Result<Vec<GrantRow>> {
    let rows = sqlx::query(
        concat!(
            "SELECT g.item_id, g.principal, g.principal_id, g.rights, CAST(NULL AS TEXT) AS name \
             FROM item_grants g JOIN items i ON i.id = g.item_id WHERE i.parent_id = $1 AND ",
            matching!("$2")
        ),
    )
    .bind(parent_id)
    .bind(account_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(grant).collect()
}

/// An item's own grants with the names of the accounts and groups they name.
pub async fn grants(c: &mut Conn, id: i64) -> Result<Vec<GrantRow>> {
    let rows = sqlx::query(
        "SELECT g.item_id, g.principal, g.principal_id, g.rights, \
           CASE WHEN g.principal = 'account' THEN (SELECT a.name || '@' || d.name FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.id = g.principal_id) \
                WHEN g.principal = 'group' THEN (SELECT x.name FROM account_groups x WHERE x.id = g.principal_id) \
                ELSE NULL END AS name \
         FROM item_grants g WHERE g.item_id = $1 ORDER BY g.principal, g.principal_id",
    )
    .bind(id)
    .fetch_all(c)
    .await?;
    rows.iter().map(grant).collect()
}

/// Replaces an item's grants and its inheritance flag.
pub async fn set_grants(tx: &mut Tx, id: i64, inherit: bool, grants: &[(String, i64, i64)], now: i64) -> Result<()> {
    crate::auth_epoch::bump(tx).await?;
    sqlx::query("DELETE FROM item_grants WHERE item_id = $1").bind(id).execute(tx.conn()).await?;
    for (principal, principal_id, rights) in grants {
        sqlx::query("INSERT INTO item_grants (item_id, principal, principal_id, rights) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(principal)
            .bind(principal_id)
            .bind(rights)
            .execute(tx.conn())
            .await?;
    }
    sqlx::query("UPDATE items SET inherit = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(i64::from(inherit))
        .bind(now)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The item and everything below it, each with the bytes and version files it holds.
pub async fn subtree(c: &mut Conn, id: i64) -> Result<Vec<SubtreeItem>> {
    let rows = sqlx::query(
        "WITH RECURSIVE down (id, depth) AS ( \
           SELECT CAST($1 AS BIGINT), 0 \
           UNION ALL SELECT i.id, down.depth + 1 FROM items i JOIN down ON i.parent_id = down.id WHERE down.depth < $2) \
         SELECT i.id, i.kind, i.owner_id, CAST(down.depth AS BIGINT) AS depth, v.id AS version_id, v.size FROM items i JOIN down ON i.id = down.id \
         LEFT JOIN item_versions v ON v.item_id = i.id ORDER BY down.depth DESC, i.id",
    )
    .bind(id)
    .bind(MAX_WALK)
    .fetch_all(c)
    .await?;
    let mut out: Vec<SubtreeItem> = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        if out.last().is_none_or(|l| l.id != id) {
            out.push(SubtreeItem {
                id,
                kind: kind_of(&r.try_get::<String, _>("kind")?)?,
                owner_id: r.try_get("owner_id")?,
                depth: r.try_get("depth")?,
                bytes: 0,
                version_ids: Vec::new(),
            });
        }
        if let (Some(v), Some(size)) = (r.try_get::<Option<i64>, _>("version_id")?, r.try_get::<Option<i64>, _>("size")?)
            && let Some(last) = out.last_mut()
        {
            last.bytes += size;
            last.version_ids.push(v);
        }
    }
    Ok(out)
}

pub struct NewVersion<'a> {
    pub id: i64,
    pub item_id: i64,
    pub size: i64,
    pub sha256: &'a str,
    pub author_id: i64,
    pub now: i64,
}

impl VersionRow {
    /// A fresh id for a version whose content is being received (its file is named by it).
    pub fn new_id() -> i64 {
        new_id()
    }

    /// Records a version and makes it the document's current one; answers its number.
    pub async fn insert(tx: &mut Tx, v: &NewVersion<'_>) -> Result<i64> {
        let number: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM item_versions WHERE item_id = $1")
            .bind(v.item_id)
            .fetch_one(tx.conn())
            .await?;
        sqlx::query(
            "INSERT INTO item_versions (id, item_id, number, size, sha256, author_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(v.id)
        .bind(v.item_id)
        .bind(number)
        .bind(v.size)
        .bind(v.sha256)
        .bind(v.author_id)
        .bind(v.now)
        .execute(tx.conn())
        .await?;
        sqlx::query("UPDATE items SET current_version = $2, size = $3, updated_at = $4 WHERE id = $1")
            .bind(v.item_id)
            .bind(v.id)
            .bind(v.size)
            .bind(v.now)
            .execute(tx.conn())
            .await?;
        Ok(number)
    }

    /// A document's versions, newest first.
    pub async fn list(c: &mut Conn, item_id: i64) -> Result<Vec<VersionRow>> {
        let rows = sqlx::query(
            "SELECT v.id, v.item_id, v.number, v.size, v.sha256, v.created_at, a.name || '@' || d.name AS author \
             FROM item_versions v LEFT JOIN accounts a ON a.id = v.author_id LEFT JOIN domains d ON d.id = a.domain_id \
             WHERE v.item_id = $1 ORDER BY v.number DESC",
        )
        .bind(item_id)
        .fetch_all(c)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(VersionRow {
                    id: r.try_get("id")?,
                    item_id: r.try_get("item_id")?,
                    number: r.try_get("number")?,
                    size: r.try_get("size")?,
                    sha256: r.try_get("sha256")?,
                    author: r.try_get("author")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}

pub mod usage {
    use super::*;

    /// What an account's documents use now.
    pub async fn get(c: &mut Conn, account_id: i64) -> Result<Usage> {
        let row = sqlx::query("SELECT bytes, documents FROM document_usage WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(c)
            .await?;
        Ok(match row {
            Some(r) => Usage { bytes: r.try_get("bytes")?, documents: r.try_get("documents")? },
            None => Usage::default(),
        })
    }

    /// The quotas of the account's class: (bytes, documents), `None` for unlimited.
    pub async fn quotas(c: &mut Conn, account_id: i64) -> Result<(Option<i64>, Option<i64>)> {
        let row = sqlx::query(
            "SELECT k.quota_storage_bytes, k.quota_documents FROM accounts a JOIN user_classes k ON k.id = a.class_id WHERE a.id = $1",
        )
        .bind(account_id)
        .fetch_optional(c)
        .await?;
        Ok(match row {
            Some(r) => (r.try_get("quota_storage_bytes")?, r.try_get("quota_documents")?),
            None => (None, None),
        })
    }

    /// Adds to an account's usage unless that would pass a limit (`None`: unlimited), in one
    /// conditional update, so two transactions can never jointly pass it. Answers whether it
    /// was charged.
    pub async fn charge(tx: &mut Tx, account_id: i64, bytes: i64, documents: i64, limits: (Option<i64>, Option<i64>)) -> Result<bool> {
        sqlx::query("INSERT INTO document_usage (account_id, bytes, documents) VALUES ($1, 0, 0) ON CONFLICT (account_id) DO NOTHING")
            .bind(account_id)
            .execute(tx.conn())
            .await?;
        let done = sqlx::query(
            "UPDATE document_usage SET bytes = bytes + $2, documents = documents + $3 \
             WHERE account_id = $1 AND bytes + $2 <= $4 AND documents + $3 <= $5",
        )
        .bind(account_id)
        .bind(bytes)
        .bind(documents)
        .bind(limits.0.unwrap_or(i64::MAX / 2))
        .bind(limits.1.unwrap_or(i64::MAX / 2))
        .execute(tx.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives back what removed documents used (never below zero).
    pub async fn release(tx: &mut Tx, account_id: i64, bytes: i64, documents: i64) -> Result<()> {
        sqlx::query(
            "UPDATE document_usage SET bytes = CASE WHEN bytes > $2 THEN bytes - $2 ELSE 0 END, \
             documents = CASE WHEN documents > $3 THEN documents - $3 ELSE 0 END WHERE account_id = $1",
        )
        .bind(account_id)
        .bind(bytes)
        .bind(documents)
        .execute(tx.conn())
        .await?;
        Ok(())
    }
}

/// Every version id the store knows, for sweeping content files nothing refers to.
pub async fn version_ids(c: &mut Conn) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM item_versions").fetch_all(c).await?)
}

pub async fn group_name(c: &mut Conn, group_id: i64) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT name FROM account_groups WHERE id = $1").bind(group_id).fetch_optional(c).await?)
}
