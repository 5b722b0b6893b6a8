//! `/mail`: the outbox of Deskward's own mail, a test message to check the relay, and the
//! relay's password (kept in the secrets store).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as Extract};
use axum::http::StatusCode;
use deskward_proto::{OutboxMessage, Queued, RelayPassword, TestMail};
use serde::Deserialize;

use crate::extract::{ApiJson, Session};
use crate::{ApiError, State, convert};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// One domain's messages (domain administrators must name theirs); all when absent.
    domain: Option<String>,
    limit: Option<i64>,
}

pub async fn outbox(
    Extract(app): Extract<State>,
    Session(caller): Session,
    q: Result<Query<OutboxQuery>, QueryRejection>,
) -> Result<Json<Vec<OutboxMessage>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest { status: e.status(), code: "invalid_input", message: e.body_text() })?;
    let rows = app.outbox(&caller, q.domain.as_deref(), q.limit.unwrap_or(100)).await?;
    Ok(Json(rows.iter().map(convert::outbox_message).collect()))
}

pub async fn test(
    Extract(app): Extract<State>,
    Session(caller): Session,
    ApiJson(req): ApiJson<TestMail>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let id = app.queue_test_mail(&caller, &req.to).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { id })))
}

pub async fn set_relay_password(
    Extract(app): Extract<State>,
    Session(caller): Session,
    ApiJson(req): ApiJson<RelayPassword>,
) -> Result<StatusCode, ApiError> {
    app.set_relay_password(&caller, Some(&req.password)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_relay_password(Extract(app): Extract<State>, Session(caller): Session) -> Result<StatusCode, ApiError> {
    app.set_relay_password(&caller, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
