//! Allow-lists per domain, the links that confirm an address from outside one, and the
//! addresses so trusted per account.

use sqlx::Row;

use crate::{Conn, Result, Tx, flag_of};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowListRow {
    /// Comma-separated addresses and CIDR ranges; empty means no allow-list.
    pub networks: String,
    /// Only domain and system administrators are held.
    pub admins_only: bool,
    /// How long a confirmed address is trusted; `None` keeps the server's setting.
    pub trust_seconds: Option<i64>,
}

/// A link's state, found by its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRow {
    pub account_id: i64,
    pub network: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl AllowListRow {
    /// The domain's allow-list; empty when it has none.
    pub async fn get(c: &mut Conn, domain_id: i64) -> Result<AllowListRow> {
        let row = sqlx::query("SELECT networks, admins_only, trust_seconds FROM domain_allow_lists WHERE domain_id = $1")
            .bind(domain_id)
            .fetch_optional(c)
            .await?;
        let Some(row) = row else { return Ok(AllowListRow::default()) };
        Ok(AllowListRow { networks: row.try_get("networks")?, admins_only: flag_of(&row, "admins_only")?, trust_seconds: row.try_get("trust_seconds")? })
    }

    pub async fn put(tx: &mut Tx, domain_id: i64, list: &AllowListRow) -> Result<()> {
        // Logins keep these settings in memory (the app's login settings).
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("DELETE FROM domain_allow_lists WHERE domain_id = $1").bind(domain_id).execute(tx.conn()).await?;
        sqlx::query("INSERT INTO domain_allow_lists (domain_id, networks, admins_only, trust_seconds) VALUES ($1, $2, $3, $4)")
            .bind(domain_id)
            .bind(&list.networks)
            .bind(i64::from(list.admins_only))
            .bind(list.trust_seconds)
            .execute(tx.conn())
            .await?;
        Ok(())
    }
}

impl VerificationRow {
    pub async fn insert(tx: &mut Tx, token_hash: &str, v: &VerificationRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO address_verifications (token_hash, account_id, network, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(v.account_id)
        .bind(&v.network)
        .bind(v.created_at)
        .bind(v.expires_at)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    /// The newest link for this account and client that is unused and unexpired at `now`.
    pub async fn pending(c: &mut Conn, account_id: i64, network: &str, now: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MAX(expires_at) FROM address_verifications \
             WHERE account_id = $1 AND network = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(account_id)
        .bind(network)
        .bind(now)
        .fetch_one(c)
        .await?)
    }

    pub async fn find(c: &mut Conn, token_hash: &str) -> Result<Option<VerificationRow>> {
        let row = sqlx::query("SELECT account_id, network, created_at, expires_at, used_at FROM address_verifications WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(c)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(VerificationRow {
            account_id: row.try_get("account_id")?,
            network: row.try_get("network")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
        }))
    }

    /// Marks the link used if it is still unused and unexpired; false when it was not (a
    /// replay, or two clicks racing: exactly one wins).
    pub async fn use_once(tx: &mut Tx, token_hash: &str, now: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE address_verifications SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1")
            .bind(now)
            .bind(token_hash)
            .execute(tx.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Trusts `network` for the account until `until_at`.
pub async fn trust(tx: &mut Tx, account_id: i64, network: &str, until_at: i64) -> Result<()> {
    sqlx::query("DELETE FROM trusted_addresses WHERE account_id = $1 AND network = $2")
        .bind(account_id)
        .bind(network)
        .execute(tx.conn())
        .await?;
    sqlx::query("INSERT INTO trusted_addresses (account_id, network, until_at) VALUES ($1, $2, $3)")
        .bind(account_id)
        .bind(network)
        .bind(until_at)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Whether the account trusts `network` at `now`.
pub async fn is_trusted(c: &mut Conn, account_id: i64, network: &str, now: i64) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM trusted_addresses WHERE account_id = $1 AND network = $2 AND until_at > $3")
        .bind(account_id)
        .bind(network)
        .bind(now)
        .fetch_one(c)
        .await?;
    Ok(n > 0)
}

/// Forgets every address the account trusts (its password changed, an administrator said so).
pub async fn forget_trusted(tx: &mut Tx, account_id: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM trusted_addresses WHERE account_id = $1").bind(account_id).execute(tx.conn()).await?;
    Ok(done.rows_affected())
}
