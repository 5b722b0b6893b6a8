//! `/domains/{domain}/accounts`: admins manage the accounts of the domains they administer.

use axum::Json;
use axum::extract::{Path, State as Extract};
use axum::http::StatusCode;
use deskward_app::{AccountChange, NewAccountInput};
use deskward_proto::{Account, CreateAccount, SetPassword, UpdateAccount};

use crate::extract::{ApiJson, Session};
use crate::{ApiError, State, convert};

pub async fn list(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<Json<Vec<Account>>, ApiError> {
    let rows = app.list_accounts(&caller, &domain).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(convert::account(row, app.groups_of(row.id).await?));
    }
    Ok(Json(out))
}

pub async fn create(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
    ApiJson(req): ApiJson<CreateAccount>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let input = NewAccountInput {
        name: req.name,
        role: req.role,
        class: req.class,
        password: req.password,
        must_change_password: req.must_change_password,
        email: req.email,
    };
    let row = app.create_account(&caller, &domain, &input).await?;
    Ok((StatusCode::CREATED, Json(convert::account(&row, Vec::new()))))
}

pub async fn show(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, name)): Path<(String, String)>,
) -> Result<Json<Account>, ApiError> {
    let (row, groups) = app.get_account(&caller, &format!("{name}@{domain}")).await?;
    Ok(Json(convert::account(&row, groups)))
}

pub async fn update(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, name)): Path<(String, String)>,
    ApiJson(req): ApiJson<UpdateAccount>,
) -> Result<Json<Account>, ApiError> {
    let change = AccountChange {
        role: req.role,
        class: req.class,
        disabled: req.disabled,
        must_change_password: req.must_change_password,
        email: req.email,
    };
    let row = app.update_account(&caller, &format!("{name}@{domain}"), &change).await?;
    let groups = app.groups_of(row.id).await?;
    Ok(Json(convert::account(&row, groups)))
}

pub async fn remove(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.remove_account(&caller, &format!("{name}@{domain}")).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_password(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, name)): Path<(String, String)>,
    ApiJson(req): ApiJson<SetPassword>,
) -> Result<StatusCode, ApiError> {
    app.set_password(&caller, &format!("{name}@{domain}"), &req.password, req.must_change_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Live sessions of an account (its domain's admins).
pub async fn sessions(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, name)): Path<(String, String)>,
) -> Result<Json<Vec<deskward_proto::SessionInfo>>, ApiError> {
    let list = app.sessions(&caller, Some(&format!("{name}@{domain}"))).await?;
    Ok(Json(list.iter().map(|e| convert::session(e, "")).collect()))
}

/// Ends every session of an account.
pub async fn revoke_sessions(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.revoke_sessions(&caller, &format!("{name}@{domain}"), None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends one session of an account.
pub async fn revoke_session(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, name, id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    app.revoke_sessions(&caller, &format!("{name}@{domain}"), Some(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
