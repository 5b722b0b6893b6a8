//! Request extractors: the JSON body (with errors in our format), the session, and the peer.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use deskward_app::{Authenticated, Source};
use serde::de::DeserializeOwned;

use crate::{ApiError, State};

/// The session cookie. The `__Host-` prefix makes browsers insist on Secure, Path=/ and no
/// Domain attribute, so a sibling host cannot plant or read it.
pub const SESSION_COOKIE: &str = "__Host-deskward_session";

/// The TCP peer, inserted by the listener for every request.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// `Json<T>` whose rejections use the API's error body.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => {
                let (code, message) = match &rejection {
                    JsonRejection::MissingJsonContentType(_) => {
                        ("unsupported_media_type", "expected a body with Content-Type: application/json".to_owned())
                    }
                    JsonRejection::JsonSyntaxError(_) => ("malformed_json", rejection.body_text()),
                    JsonRejection::JsonDataError(_) => ("invalid_input", rejection.body_text()),
                    _ if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                        ("payload_too_large", "request body is larger than http.max_body_bytes".to_owned())
                    }
                    _ => ("bad_request", rejection.body_text()),
                };
                Err(ApiError::BadRequest { status: rejection.status(), code, message })
            }
        }
    }
}

/// Where the request came from.
pub struct Client(pub Source);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<PeerAddr>().map_or_else(|| "unknown".to_owned(), |p| p.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Ok(Client(Source { ip, user_agent }))
    }
}

/// The session token from the cookie or an `Authorization: Bearer` header.
fn token(parts: &Parts) -> Option<&str> {
    if let Some(bearer) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")).map(|(_, t)| t))
    {
        return Some(bearer.trim());
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// A logged-in caller, whatever the state of their password.
pub struct AnySession(pub Authenticated);

/// A logged-in caller who owes no password change.
pub struct Session(pub Authenticated);

impl FromRequestParts<State> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &State) -> Result<Self, Self::Rejection> {
        let token = token(parts).ok_or(deskward_app::AppError::Unauthenticated)?;
        Ok(AnySession(app.authenticate(token).await?))
    }
}

impl FromRequestParts<State> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &State) -> Result<Self, Self::Rejection> {
        let AnySession(auth) = AnySession::from_request_parts(parts, app).await?;
        auth.require_usable()?;
        Ok(Session(auth))
    }
}
