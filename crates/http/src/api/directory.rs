//! `/domains/{domain}/directory`: a domain's LDAP or Active Directory connection, its bind
//! password (kept in the secrets store), and a connection test.

use axum::Json;
use axum::extract::{Path, State as Extract};
use axum::http::StatusCode;
use deskward_proto::{BindPassword, Directory, DirectorySync, DirectoryTestResult, SetDirectory, TestDirectory};

use crate::extract::{ApiJson, Session};
use crate::{ApiError, State, convert};

pub async fn show(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<Json<Directory>, ApiError> {
    Ok(Json(convert::directory(&app.directory(&caller, &domain).await?)))
}

pub async fn set(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
    ApiJson(req): ApiJson<SetDirectory>,
) -> Result<Json<Directory>, ApiError> {
    Ok(Json(convert::directory(&app.set_directory(&caller, &domain, &convert::directory_input(req)).await?)))
}

pub async fn remove(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<StatusCode, ApiError> {
    app.remove_directory(&caller, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_password(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
    ApiJson(req): ApiJson<BindPassword>,
) -> Result<StatusCode, ApiError> {
    app.set_directory_password(&caller, &domain, Some(&req.password)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_password(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<StatusCode, ApiError> {
    app.set_directory_password(&caller, &domain, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn test(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
    ApiJson(req): ApiJson<TestDirectory>,
) -> Result<Json<DirectoryTestResult>, ApiError> {
    Ok(Json(convert::directory_test(&app.test_directory(&caller, &domain, req.login.as_deref()).await?)))
}

pub async fn sync(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<Json<DirectorySync>, ApiError> {
    Ok(Json(convert::directory_sync(&app.sync_directory(&caller, &domain, &|_, _| {}).await?)))
}
