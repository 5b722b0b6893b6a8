//! The one error type of the HTTP layer: every failure becomes the JSON error body with the
//! right status. Server-side failures get a generic message; their detail goes to the log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::Json;
use deskward_app::AppError;
use deskward_proto::{ErrorBody, ErrorDetail, PolicyViolation};

#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    /// A request the API cannot read: malformed JSON, wrong content type, oversize body.
    BadRequest { status: StatusCode, code: &'static str, message: String },
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

pub fn status_and_code(e: &AppError) -> (StatusCode, &'static str) {
    match e {
        AppError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_input"),
        AppError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
        AppError::WrongCurrentPassword => (StatusCode::FORBIDDEN, "wrong_current_password"),
        AppError::AccountDisabled => (StatusCode::FORBIDDEN, "account_disabled"),
        AppError::DomainDisabled => (StatusCode::FORBIDDEN, "domain_disabled"),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        AppError::PasswordChangeRequired => (StatusCode::FORBIDDEN, "password_change_required"),
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        AppError::Policy(_) => (StatusCode::UNPROCESSABLE_ENTITY, "password_policy"),
        AppError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        AppError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
        AppError::NetworkRestricted(_) => (StatusCode::FORBIDDEN, "network_restricted"),
        AppError::LoginHeld(_) => (StatusCode::FORBIDDEN, "login_held"),
        AppError::LinkGone(_) => (StatusCode::GONE, "link_gone"),
        AppError::Unwritable(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unwritable"),
        AppError::SecretsLocked(_) => (StatusCode::SERVICE_UNAVAILABLE, "secrets_locked"),
        AppError::DirectoryPasswordExpired(_) => (StatusCode::FORBIDDEN, "directory_password_expired"),
        AppError::DirectoryUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "directory_unavailable"),
        AppError::PluginUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "authentication_unavailable"),
        AppError::FeatureDisabled(_) => (StatusCode::FORBIDDEN, "feature_disabled"),
        AppError::Hidden(_) => (StatusCode::NOT_FOUND, "not_found"),
        AppError::QuotaExceeded(_) => (StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded"),
        AppError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        AppError::SharePassword(_) => (StatusCode::UNAUTHORIZED, "share_password"),
        AppError::Stale(_) => (StatusCode::PRECONDITION_FAILED, "stale"),
        AppError::Store(_) | AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

pub fn body(status: StatusCode, code: &str, message: String, violations: Vec<PolicyViolation>) -> Response {
    let detail = ErrorDetail { code: code.to_owned(), message, violations };
    (status, Json(ErrorBody { error: detail })).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::BadRequest { status, code, message } => body(status, code, message, Vec::new()),
            ApiError::App(e) => {
                let (status, code) = status_and_code(&e);
                if let AppError::Unwritable(detail) = &e {
                    tracing::error!(error = %detail, "the database refuses writes");
                }
                let message = if status.is_server_error() && !matches!(status, StatusCode::SERVICE_UNAVAILABLE | StatusCode::INSUFFICIENT_STORAGE) {
                    tracing::error!(error = %e, "request failed");
                    "internal error; the server log has the details".to_owned()
                } else {
                    e.to_string()
                };
                let violations = match &e {
                    AppError::Policy(v) => v
                        .iter()
                        .map(|v| PolicyViolation { rule: v.rule().to_owned(), message: v.message() })
                        .collect(),
                    _ => Vec::new(),
                };
                let mut response = body(status, code, message, violations);
                match &e {
                    AppError::Forbidden(reason) | AppError::Hidden(reason) => {
                        response.extensions_mut().insert(crate::watch::Denied { action: "access.denied", reason: reason.clone() });
                    }
                    AppError::FeatureDisabled(feature) => {
                        response.extensions_mut().insert(crate::watch::Denied { action: "feature.denied", reason: feature.clone() });
                    }
                    _ => {}
                }
                if matches!(e, AppError::Busy) {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                }
                if let AppError::TooManyAttempts { retry_after, .. } = e {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
                }
                response
            }
        }
    }
}

pub async fn no_route() -> Response {
    body(StatusCode::NOT_FOUND, "no_route", "no such API endpoint".into(), Vec::new())
}

pub async fn method_not_allowed() -> Response {
    body(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this endpoint".into(), Vec::new())
}
