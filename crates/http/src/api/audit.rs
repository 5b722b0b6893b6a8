//! `/audit`: admins browse the audit log by chain (domain) and day, and search it. A domain
//! admin sees only their own domain's chain.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as Extract};
use deskward_app::AppError;
use deskward_proto::{AuditChain, AuditDay, AuditRecord};
use deskward_store::audit::Filter;
use serde::Deserialize;

use crate::extract::Session;
use crate::{ApiError, State, convert};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    domain: Option<String>,
    user: Option<String>,
    action: Option<String>,
    ip: Option<String>,
    target: Option<String>,
    since: Option<String>,
    until: Option<String>,
    #[serde(default)]
    security: bool,
    text: Option<String>,
    limit: Option<i64>,
}

/// A time in a query: Unix seconds, `yyyy-mm-dd` (UTC midnight), RFC 3339, or a duration
/// before `now` (`90m`, `7d`).
pub fn parse_time(text: &str, now: i64) -> Result<i64, AppError> {
    let text = text.trim();
    if let Ok(unix) = text.parse::<i64>() {
        return Ok(unix);
    }
    if let Some(day) = deskward_core::audit::day_start(text) {
        return Ok(day);
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        return Ok(i64::try_from(secs).unwrap_or(i64::MAX));
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(now.saturating_sub(i64::try_from(ago.as_secs()).unwrap_or(i64::MAX)));
    }
    Err(AppError::Invalid(format!(
        "{text:?} is not a time: use yyyy-mm-dd, 2026-11-23T10:00:00Z, Unix seconds, or a duration ago like 2h"
    )))
}

pub fn filter(app: &State, q: Search) -> Result<Filter, AppError> {
    let now = app.now();
    Ok(Filter {
        chain: q.domain,
        user: q.user,
        action: q.action,
        source_ip: q.ip,
        target: q.target,
        since: q.since.as_deref().map(|t| parse_time(t, now)).transpose()?,
        until: q.until.as_deref().map(|t| parse_time(t, now)).transpose()?,
        security_only: q.security,
        text: q.text.filter(|t| !t.is_empty()),
        limit: q.limit.unwrap_or(100),
    })
}

pub async fn search(
    Extract(app): Extract<State>,
    Session(caller): Session,
    q: Result<Query<Search>, QueryRejection>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest { status: e.status(), code: "invalid_input", message: e.body_text() })?;
    let filter = filter(&app, q)?;
    let records = app.audit_search(&caller, filter).await?;
    Ok(Json(records.iter().map(convert::audit_record).collect()))
}

pub async fn chains(Extract(app): Extract<State>, Session(caller): Session) -> Result<Json<Vec<AuditChain>>, ApiError> {
    let heads = app.audit_chains(&caller).await?;
    Ok(Json(
        heads
            .into_iter()
            .map(|h| AuditChain {
                chain: h.chain,
                records: h.seq,
                last_day: h.day,
                head_hash: h.hash,
                archived_through: h.archived_seq,
            })
            .collect(),
    ))
}

pub async fn days(Extract(app): Extract<State>, Session(caller): Session, Path(chain): Path<String>) -> Result<Json<Vec<AuditDay>>, ApiError> {
    let days = app.audit_days(&caller, &chain).await?;
    Ok(Json(days.into_iter().map(|(day, records)| AuditDay { day, records }).collect()))
}

pub async fn day(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((chain, day)): Path<(String, String)>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let records = app.audit_day(&caller, &chain, &day).await?;
    Ok(Json(records.iter().map(convert::audit_record).collect()))
}
