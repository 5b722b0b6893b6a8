//! The authentication epoch: see `migrations/0002_auth_epoch.sql`. Store functions that change
//! what a session may do call [`bump`] inside their transaction, so no such change can commit
//! without moving the epoch.

use crate::{Conn, Result, Tx};

pub(crate) async fn bump(tx: &mut Tx) -> Result<()> {
    sqlx::query("UPDATE auth_epoch SET value = value + 1 WHERE id = 1").execute(tx.conn()).await?;
    Ok(())
}

pub async fn current(c: &mut Conn) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT value FROM auth_epoch WHERE id = 1").fetch_one(c).await?)
}
