//! Password policies per domain and audience; a domain without a stored row uses the defaults.

use deskward_core::password::{Audience, Policy};
use sqlx::Row;

use crate::{flag_of, Conn, Result, StoreError, Tx};

pub async fn get(c: &mut Conn, domain_id: i64, audience: Audience) -> Result<Policy> {
    let row = sqlx::query(
        "SELECT min_length, min_non_letters, require_lowercase, require_uppercase, require_digit, \
         require_symbol, reject_common, max_age_days, history FROM password_policies \
         WHERE domain_id = $1 AND audience = $2",
    )
    .bind(domain_id)
    .bind(audience.as_str())
    .fetch_optional(c)
    .await?;
    let Some(row) = row else { return Ok(Policy::default_for(audience)) };
    let num = |v: i64| u32::try_from(v).map_err(|_| StoreError::Corrupt { what: "password policy", detail: format!("{v} out of range") });
    let max_age: Option<i64> = row.try_get("max_age_days")?;
    Ok(Policy {
        min_length: num(row.try_get("min_length")?)?,
        min_non_letters: num(row.try_get("min_non_letters")?)?,
        require_lowercase: flag_of(&row, "require_lowercase")?,
        require_uppercase: flag_of(&row, "require_uppercase")?,
        require_digit: flag_of(&row, "require_digit")?,
        require_symbol: flag_of(&row, "require_symbol")?,
        reject_common: flag_of(&row, "reject_common")?,
        max_age_days: max_age.map(num).transpose()?,
        history: num(row.try_get("history")?)?,
    })
}

pub async fn set(tx: &mut Tx, domain_id: i64, audience: Audience, p: &Policy) -> Result<()> {
    // Logins keep these settings in memory (the app's login settings).
    crate::auth_epoch::bump(tx).await?;
    sqlx::query(
        "INSERT INTO password_policies (domain_id, audience, min_length, min_non_letters, \
         require_lowercase, require_uppercase, require_digit, require_symbol, reject_common, \
         max_age_days, history) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (domain_id, audience) DO UPDATE SET min_length = excluded.min_length, \
         min_non_letters = excluded.min_non_letters, require_lowercase = excluded.require_lowercase, \
         require_uppercase = excluded.require_uppercase, require_digit = excluded.require_digit, \
         require_symbol = excluded.require_symbol, reject_common = excluded.reject_common, \
         max_age_days = excluded.max_age_days, history = excluded.history",
    )
    .bind(domain_id)
    .bind(audience.as_str())
    .bind(i64::from(p.min_length))
    .bind(i64::from(p.min_non_letters))
    .bind(i64::from(p.require_lowercase))
    .bind(i64::from(p.require_uppercase))
    .bind(i64::from(p.require_digit))
    .bind(i64::from(p.require_symbol))
    .bind(i64::from(p.reject_common))
    .bind(p.max_age_days.map(i64::from))
    .bind(i64::from(p.history))
    .execute(tx.conn())
    .await?;
    Ok(())
}
