//! `/bans`: the guard's and administrators' bans; system administrators only.

use axum::Json;
use axum::extract::{Path, State as Extract};
use axum::http::StatusCode;
use deskward_proto::{Ban, CreateBan};

use crate::extract::{ApiJson, Session};
use crate::{ApiError, State, convert};

pub async fn list(Extract(app): Extract<State>, Session(caller): Session) -> Result<Json<Vec<Ban>>, ApiError> {
    Ok(Json(app.bans(&caller).await?.iter().map(convert::ban).collect()))
}

pub async fn create(
    Extract(app): Extract<State>,
    Session(caller): Session,
    ApiJson(req): ApiJson<CreateBan>,
) -> Result<(StatusCode, Json<Ban>), ApiError> {
    let row = app.ban(&caller, &req.network, req.seconds).await?;
    Ok((StatusCode::CREATED, Json(convert::ban(&row))))
}

/// The network is one path segment, its `/` written `%2F` (`10.0.0.0%2F8`).
pub async fn remove(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(network): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.unban(&caller, &network).await?;
    Ok(StatusCode::NO_CONTENT)
}
