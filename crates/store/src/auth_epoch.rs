//! Epoch counters (`migrations/0002_auth_epoch.sql`, `0004_guard.sql`). Store functions that
//! change what a session may do call [`bump`] inside their transaction, so no such change can
//! commit without moving the epoch; ban writes move the bans' epoch the same way.

use sqlx::Row;

use crate::{Conn, Result, Tx};

const AUTH: i64 = 1;
const BANS: i64 = 2;

pub(crate) async fn bump(tx: &mut Tx) -> Result<()> {
    bump_row(tx, AUTH).await
}

pub(crate) async fn bump_bans(tx: &mut Tx) -> Result<()> {
    bump_row(tx, BANS).await
}

async fn bump_row(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("UPDATE auth_epoch SET value = value + 1 WHERE id = $1").bind(id).execute(tx.conn()).await?;
    Ok(())
}

/// Both counters in one read, for the poller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epochs {
    pub auth: i64,
    pub bans: i64,
}

pub async fn current(c: &mut Conn) -> Result<Epochs> {
    let rows = sqlx::query("SELECT id, value FROM auth_epoch WHERE id IN (1, 2)").fetch_all(c).await?;
    let mut e = Epochs { auth: 0, bans: 0 };
    for row in rows {
        let (id, value): (i64, i64) = (row.try_get("id")?, row.try_get("value")?);
        match id {
            AUTH => e.auth = value,
            _ => e.bans = value,
        }
    }
    Ok(e)
}
