//! `/domains/{domain}/groups`: groups and their members.

use axum::Json;
use axum::extract::{Path, State as Extract};
use axum::http::StatusCode;
use deskward_proto::{CreateGroup, Group};

use crate::extract::{ApiJson, Session};
use crate::{ApiError, State, convert};

pub async fn list(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<Json<Vec<Group>>, ApiError> {
    let rows = app.list_groups(&caller, &domain).await?;
    Ok(Json(rows.iter().map(convert::group).collect()))
}

pub async fn create(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
    ApiJson(req): ApiJson<CreateGroup>,
) -> Result<(StatusCode, Json<Group>), ApiError> {
    let row = app.create_group(&caller, &domain, &req.name).await?;
    Ok((StatusCode::CREATED, Json(convert::group(&row))))
}

pub async fn remove(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, group)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.remove_group(&caller, &domain, &group).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_member(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, group, name)): Path<(String, String, String)>,
) -> Result<Json<Group>, ApiError> {
    let row = app.set_member(&caller, &domain, &group, &name, true).await?;
    Ok(Json(convert::group(&row)))
}

pub async fn remove_member(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, group, name)): Path<(String, String, String)>,
) -> Result<Json<Group>, ApiError> {
    let row = app.set_member(&caller, &domain, &group, &name, false).await?;
    Ok(Json(convert::group(&row)))
}
