//! `/domains`: system admins manage domains; domain admins see their own.

use axum::Json;
use axum::extract::{Path, State as Extract};
use axum::http::StatusCode;
use deskward_proto::{AllowList, CreateDomain, Domain, RoleNotifications, SetAllowList, SetNotifications, UpdateDomain};

use crate::extract::{ApiJson, Session};
use crate::{ApiError, State, convert};

pub async fn list(Extract(app): Extract<State>, Session(caller): Session) -> Result<Json<Vec<Domain>>, ApiError> {
    let rows = app.list_domains(&caller).await?;
    Ok(Json(rows.iter().map(convert::domain).collect()))
}

pub async fn create(
    Extract(app): Extract<State>,
    Session(caller): Session,
    ApiJson(req): ApiJson<CreateDomain>,
) -> Result<(StatusCode, Json<Domain>), ApiError> {
    let row = app.create_domain(&caller, &req.name).await?;
    Ok((StatusCode::CREATED, Json(convert::domain(&row))))
}

pub async fn show(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<Json<Domain>, ApiError> {
    Ok(Json(convert::domain(&app.get_domain(&caller, &domain).await?)))
}

pub async fn update(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
    ApiJson(req): ApiJson<UpdateDomain>,
) -> Result<Json<Domain>, ApiError> {
    if let Some(days) = req.audit_retention_days {
        app.set_audit_retention(&caller, &domain, (days > 0).then_some(days)).await?;
    }
    if let Some(on) = req.im_logging {
        app.set_im_logging(&caller, &domain, on).await?;
    }
    let row = match req.disabled {
        Some(disabled) => app.set_domain_disabled(&caller, &domain, disabled).await?,
        None => app.get_domain(&caller, &domain).await?,
    };
    Ok(Json(convert::domain(&row)))
}

pub async fn remove(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<StatusCode, ApiError> {
    app.remove_domain(&caller, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The domain's session rules: its overrides and what its new sessions follow.
pub async fn session_rules(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
) -> Result<Json<deskward_proto::DomainSessionRules>, ApiError> {
    let (overrides, effective) = app.session_rules(&caller, &domain).await?;
    Ok(Json(convert::session_rules(&overrides, &effective)))
}

/// Replaces the domain's session overrides.
pub async fn set_session_rules(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
    ApiJson(req): ApiJson<deskward_proto::SessionRuleOverrides>,
) -> Result<Json<deskward_proto::DomainSessionRules>, ApiError> {
    let overrides = convert::session_rules_in(&req);
    let effective = app.set_session_rules(&caller, &domain, &overrides).await?;
    Ok(Json(convert::session_rules(&overrides, &effective)))
}

pub async fn notifications(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
) -> Result<Json<Vec<RoleNotifications>>, ApiError> {
    Ok(Json(convert::notifications(&app.notification_rules(&caller, &domain).await?)))
}

pub async fn set_notifications(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
    ApiJson(req): ApiJson<SetNotifications>,
) -> Result<Json<Vec<RoleNotifications>>, ApiError> {
    let rows = convert::notifications_in(&req)?;
    Ok(Json(convert::notifications(&app.set_notification_rules(&caller, &domain, &rows).await?)))
}

pub async fn allow_list(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
) -> Result<Json<AllowList>, ApiError> {
    Ok(Json(convert::allow_list(&app.allow_list(&caller, &domain).await?)))
}

pub async fn set_allow_list(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
    ApiJson(req): ApiJson<SetAllowList>,
) -> Result<Json<AllowList>, ApiError> {
    let list = app.set_allow_list(&caller, &domain, &req.networks, req.admins_only, req.trust_seconds).await?;
    Ok(Json(convert::allow_list(&list)))
}
