//! `/domains/{domain}/auth-order`: which back ends check a domain's logins, in which order.

use axum::Json;
use axum::extract::{Path, State as Extract};
use deskward_proto::{AuthOrder, SetAuthOrder};

use crate::extract::{ApiJson, Session};
use crate::{ApiError, State, convert};

pub async fn show(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<Json<AuthOrder>, ApiError> {
    Ok(Json(convert::auth_order(&app.auth_order(&caller, &domain).await?)))
}

pub async fn set(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(domain): Path<String>,
    ApiJson(req): ApiJson<SetAuthOrder>,
) -> Result<Json<AuthOrder>, ApiError> {
    Ok(Json(convert::auth_order(&app.set_auth_order(&caller, &domain, Some(&req.backends)).await?)))
}

/// Back to the default order.
pub async fn reset(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<Json<AuthOrder>, ApiError> {
    Ok(Json(convert::auth_order(&app.set_auth_order(&caller, &domain, None).await?)))
}
