//! `/domains/{domain}/classes`: user classes with feature switches and quotas.

use axum::Json;
use axum::extract::{Path, State as Extract};
use axum::http::StatusCode;
use deskward_app::{ClassChange, NewClass};
use deskward_core::class::Features;
use deskward_proto::{CreateUserClass, UpdateUserClass, UserClass};

use crate::extract::{ApiJson, Session};
use crate::{ApiError, State, convert};

pub async fn list(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<Json<Vec<UserClass>>, ApiError> {
    let rows = app.list_classes(&caller, &domain).await?;
    Ok(Json(rows.iter().map(convert::class).collect()))
}

pub async fn create(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
    ApiJson(req): ApiJson<CreateUserClass>,
) -> Result<(StatusCode, Json<UserClass>), ApiError> {
    let new = NewClass {
        name: req.name,
        features: req.features.as_ref().map_or(Features::ALL, convert::features_in),
        quota_storage_bytes: req.quota_storage_bytes,
        quota_documents: req.quota_documents,
    };
    let row = app.create_class(&caller, &domain, &new).await?;
    Ok((StatusCode::CREATED, Json(convert::class(&row))))
}

/// `-1` in a quota field removes that quota.
fn quota(v: Option<i64>) -> Option<Option<i64>> {
    v.map(|q| if q == -1 { None } else { Some(q) })
}

pub async fn update(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, class)): Path<(String, String)>,
    ApiJson(req): ApiJson<UpdateUserClass>,
) -> Result<Json<UserClass>, ApiError> {
    let change = ClassChange {
        features: req.features.as_ref().map(convert::features_in),
        quota_storage_bytes: quota(req.quota_storage_bytes),
        quota_documents: quota(req.quota_documents),
    };
    let row = app.update_class(&caller, &domain, &class, &change).await?;
    Ok(Json(convert::class(&row)))
}

pub async fn remove(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, class)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.remove_class(&caller, &domain, &class).await?;
    Ok(StatusCode::NO_CONTENT)
}
