//! `/domains/{domain}/policies/{audience}`: the password policy for `users` or `staff`.

use axum::Json;
use axum::extract::{Path, State as Extract};
use deskward_proto::PasswordPolicy;

use crate::extract::{ApiJson, Session};
use crate::{ApiError, State, convert};

pub async fn show(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, audience)): Path<(String, String)>,
) -> Result<Json<PasswordPolicy>, ApiError> {
    let policy = app.get_policy(&caller, &domain, &audience).await?;
    Ok(Json(convert::policy_out(&policy)))
}

pub async fn set(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, audience)): Path<(String, String)>,
    ApiJson(req): ApiJson<PasswordPolicy>,
) -> Result<Json<PasswordPolicy>, ApiError> {
    app.set_policy(&caller, &domain, &audience, &convert::policy_in(&req)).await?;
    Ok(Json(req))
}
