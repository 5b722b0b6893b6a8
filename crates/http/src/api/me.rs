//! Logging in and out, and the caller's own account.

use axum::Json;
use axum::extract::{Path, State as Extract};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use deskward_app::Authenticated;
use deskward_proto::{ChangePasswordRequest, ImpersonateRequest, Impersonation, LoginRequest, Me, SessionInfo};

use crate::extract::{AnySession, ApiJson, Client, SESSION_COOKIE, Session};
use crate::{ApiError, State, convert};

fn me_of(auth: &Authenticated) -> Me {
    Me {
        login: auth.account.login(),
        domain: auth.account.domain.clone(),
        role: auth.account.role.to_string(),
        class: auth.account.class.clone(),
        groups: auth.groups.clone(),
        password_change_required: auth.session.password_change_required,
        session_expires_at: convert::time(auth.session.expires_at),
        remembered: auth.session.remembered,
        acting_admin: auth.session.acting_admin.as_ref().map(|a| a.1.clone()),
    }
}

pub fn cookie(value: &str, max_age: Option<i64>) -> Result<HeaderValue, ApiError> {
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict{age}"))
        .map_err(|e| ApiError::App(deskward_app::AppError::Internal(e.to_string())))
}

pub async fn login(
    Extract(app): Extract<State>,
    Client(source): Client,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let outcome = app.login(&req.login, &req.password, req.remember, &source).await?;
    let (token, auth) = app.authenticated(outcome).await?;
    let body = me_of(&auth);
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    // A remembered session's cookie outlives the browser; any other dies with it.
    let age = auth.session.remembered.then(|| auth.session.expires_at - app.now());
    response.headers_mut().insert(header::SET_COOKIE, cookie(&token, age)?);
    Ok(response)
}

/// An administrator opens a session of an account below their role (docs/impersonation.md).
/// The token comes in the body, for `Authorization: Bearer`; no cookie is set, so the
/// caller's own session carries on.
pub async fn impersonate(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, name)): Path<(String, String)>,
    ApiJson(req): ApiJson<ImpersonateRequest>,
) -> Result<(StatusCode, Json<Impersonation>), ApiError> {
    let outcome = app.impersonate(&caller, &format!("{name}@{domain}"), &req.reason).await?;
    let (token, auth) = app.authenticated(outcome).await?;
    Ok((StatusCode::CREATED, Json(Impersonation { token, session: me_of(&auth) })))
}

/// Ends the caller's session if there is one; answers 204 either way and clears the cookie, so
/// logging out twice, or with an expired session, is not an error.
pub async fn logout(Extract(app): Extract<State>, session: Result<AnySession, ApiError>) -> Result<Response, ApiError> {
    if let Ok(AnySession(auth, caller)) = session {
        app.logout(&caller, &auth).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie("", Some(0))?);
    Ok(response)
}

pub async fn me(AnySession(auth, _): AnySession) -> Result<Json<Me>, ApiError> {
    Ok(Json(me_of(&auth)))
}

pub async fn change_password(
    Extract(app): Extract<State>,
    AnySession(auth, caller): AnySession,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    app.change_own_password(&caller, &auth, &req.current_password, &req.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn sessions(Extract(app): Extract<State>, AnySession(auth, _): AnySession) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let list = app.my_sessions(&auth).await?;
    Ok(Json(list.iter().map(|e| convert::session(e, &auth.session.token_hash)).collect()))
}

pub async fn end_session(
    Extract(app): Extract<State>,
    AnySession(auth, caller): AnySession,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.end_my_session(&caller, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's recent logins and failed or refused attempts on their account.
pub async fn logins(Extract(app): Extract<State>, AnySession(auth, _): AnySession) -> Result<Json<Vec<deskward_proto::AuditRecord>>, ApiError> {
    let records = app.my_recent_logins(&auth, 50).await?;
    Ok(Json(records.iter().map(convert::audit_record).collect()))
}
