//! The order of a domain's authentication back ends.

use crate::{Conn, Result, Tx};

/// The domain's back ends in order (`local`, `directory`, `plugin:<name>`); `None` when the
/// domain keeps the default.
pub async fn get(c: &mut Conn, domain_id: i64) -> Result<Option<Vec<String>>> {
    let text: Option<String> = sqlx::query_scalar("SELECT backends FROM auth_orders WHERE domain_id = $1").bind(domain_id).fetch_optional(c).await?;
    Ok(text.map(|t| t.lines().map(str::to_owned).collect()))
}

/// [`get`] by the domain's name, for logins (one query; `None` also for an unknown domain).
pub async fn of_domain(c: &mut Conn, domain: &str) -> Result<Option<Vec<String>>> {
    let text: Option<String> = sqlx::query_scalar("SELECT o.backends FROM auth_orders o JOIN domains d ON d.id = o.domain_id WHERE d.name = $1")
        .bind(domain)
        .fetch_optional(c)
        .await?;
    Ok(text.map(|t| t.lines().map(str::to_owned).collect()))
}

pub async fn put(tx: &mut Tx, domain_id: i64, backends: &[String], now: i64) -> Result<()> {
    // Logins keep these settings in memory (the app's login settings).
    crate::auth_epoch::bump(tx).await?;
    sqlx::query("DELETE FROM auth_orders WHERE domain_id = $1").bind(domain_id).execute(tx.conn()).await?;
    sqlx::query("INSERT INTO auth_orders (domain_id, backends, updated_at) VALUES ($1, $2, $3)")
        .bind(domain_id)
        .bind(backends.join("\n"))
        .bind(now)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Back to the default; whether the domain had its own order.
pub async fn remove(tx: &mut Tx, domain_id: i64) -> Result<bool> {
    // Logins keep these settings in memory (the app's login settings).
    crate::auth_epoch::bump(tx).await?;
    Ok(sqlx::query("DELETE FROM auth_orders WHERE domain_id = $1").bind(domain_id).execute(tx.conn()).await?.rows_affected() > 0)
}
