//! Bans: a network refused logins until a time, written by the guard or an administrator.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Result, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanRow {
    /// An address (`203.0.113.9`) or a CIDR range (`2001:db8:1:2::/64`), as `core::net` prints it.
    pub network: String,
    pub until_at: i64,
    /// How many times the guard banned this network; the next ban grows with it.
    pub offences: i64,
    /// `failures` (the guard) or `manual` (an administrator).
    pub reason: String,
    pub created_at: i64,
    /// Who banned: `guard`, or the administrator's login, or `operator`.
    pub created_by: String,
}

fn from_row(row: &AnyRow) -> Result<BanRow> {
    Ok(BanRow {
        network: row.try_get("network")?,
        until_at: row.try_get("until_at")?,
        offences: row.try_get("offences")?,
        reason: row.try_get("reason")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
    })
}

impl BanRow {
    /// Bans in force at `now`, soonest end first.
    pub async fn active(c: &mut Conn, now: i64) -> Result<Vec<BanRow>> {
        let rows = sqlx::query(
            "SELECT network, until_at, offences, reason, created_at, created_by FROM bans \
             WHERE until_at > $1 ORDER BY until_at, network",
        )
        .bind(now)
        .fetch_all(c)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The row of `network`, in force or remembered.
    pub async fn find(tx: &mut Tx, network: &str) -> Result<Option<BanRow>> {
        let row = sqlx::query(
            "SELECT network, until_at, offences, reason, created_at, created_by FROM bans WHERE network = $1",
        )
        .bind(network)
        .fetch_optional(tx.conn())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Writes the ban, replacing any earlier row of the same network.
    pub async fn put(tx: &mut Tx, ban: &BanRow) -> Result<()> {
        crate::auth_epoch::bump_bans(tx).await?;
        sqlx::query("DELETE FROM bans WHERE network = $1").bind(&ban.network).execute(tx.conn()).await?;
        sqlx::query(
            "INSERT INTO bans (network, until_at, offences, reason, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&ban.network)
        .bind(ban.until_at)
        .bind(ban.offences)
        .bind(&ban.reason)
        .bind(ban.created_at)
        .bind(&ban.created_by)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    /// Lifts the ban of `network` (its offences are forgotten too); false when there was none
    /// in force.
    pub async fn lift(tx: &mut Tx, network: &str, now: i64) -> Result<bool> {
        crate::auth_epoch::bump_bans(tx).await?;
        let done = sqlx::query("DELETE FROM bans WHERE network = $1 AND until_at > $2")
            .bind(network)
            .bind(now)
            .execute(tx.conn())
            .await?;
        sqlx::query("DELETE FROM bans WHERE network = $1").bind(network).execute(tx.conn()).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets bans that ended before `before`.
    pub async fn forget_ended(tx: &mut Tx, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM bans WHERE until_at < $1").bind(before).execute(tx.conn()).await?;
        Ok(done.rows_affected())
    }
}
