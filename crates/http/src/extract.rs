//! Request extractors: the JSON body (with errors in our format), the session, and the peer.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, header};
use deskward_app::{Authenticated, Caller, Source};
use serde::de::DeserializeOwned;

use crate::client::ClientAddr;
use crate::watch::CallerSlot;
use crate::{ApiError, State};

/// The session cookie. The `__Host-` prefix makes browsers insist on Secure, Path=/ and no
/// Domain attribute, so a sibling host cannot plant or read it.
pub const SESSION_COOKIE: &str = "__Host-deskward_session";

/// The TCP peer, inserted by the listener for every request.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// `Json<T>` whose rejections use the API's error body. String values that look like an
/// attack are reported as a security event (and the request goes on: SQL is bound and output
/// escaped, so the value is harmless data).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<State> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &State) -> Result<Self, Self::Rejection> {
        let slot = req.extensions().get::<CallerSlot>().cloned();
        let source = source_of(req.extensions(), req.headers());
        let value = match axum::Json::<serde_json::Value>::from_request(req, app).await {
            Ok(axum::Json(v)) => v,
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
                return Err(ApiError::BadRequest { status: rejection.status(), code, message });
            }
        };
        if let Some((field, pattern, excerpt)) = crate::watch::scan_json(&value) {
            let caller = slot.and_then(|s| s.get()).unwrap_or_else(|| Caller::anonymous(source));
            crate::watch::suspicious(app, &caller, &format!("body field {field}"), pattern, &excerpt).await;
        }
        match T::deserialize(value) {
            Ok(v) => Ok(ApiJson(v)),
            Err(e) => Err(ApiError::BadRequest {
                status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid_input",
                message: format!("Failed to deserialize the JSON body into the target type: {e}"),
            }),
        }
    }
}

/// Where a request came from: the client's address (`client.rs`) and the user agent. (The
/// host name is filled in once reverse DNS exists.)
pub fn source_of(extensions: &Extensions, headers: &HeaderMap) -> Source {
    let ip = extensions.get::<ClientAddr>().map_or_else(|| "unknown".to_owned(), |c| c.ip.to_string());
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    Source { ip, host: String::new(), user_agent }
}

/// Where the request came from.
pub struct Client(pub Source);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(source_of(&parts.extensions, &parts.headers)))
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
    cookie_value(&parts.headers, SESSION_COOKIE)
}

/// The value of the cookie `name`, if the request carries it.
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// A request a page makes by itself (polling), marked `X-Deskward-Background: 1`: it does not
/// extend the session, so an open tab does not keep an absent user logged in.
pub const BACKGROUND_HEADER: &str = "x-deskward-background";

fn is_background(headers: &HeaderMap) -> bool {
    headers.get(BACKGROUND_HEADER).is_some_and(|v| v.as_bytes() == b"1")
}

/// A logged-in caller, whatever the state of their password: the session and who it stands
/// for, seen from this request's source.
pub struct AnySession(pub Authenticated, pub Caller);

/// A logged-in caller who owes no password change.
pub struct Session(pub Caller);

impl FromRequestParts<State> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &State) -> Result<Self, Self::Rejection> {
        let token = token(parts).ok_or(deskward_app::AppError::Unauthenticated)?;
        let auth = app.authenticate(token, is_background(&parts.headers)).await?;
        let caller = auth.caller(source_of(&parts.extensions, &parts.headers));
        // Security events later in this request (access denied) name this caller.
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            slot.set(caller.clone());
        }
        if let Err(e) = app.may_work_from(auth.account.role, &caller.source.ip) {
            let what = format!("{} {}", parts.method, parts.uri.path());
            app.security_event(&caller, &caller.chain(), "network.denied", what, serde_json::json!({ "reason": e.to_string() })).await;
            return Err(e.into());
        }
        Ok(AnySession(auth, caller))
    }
}

impl FromRequestParts<State> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &State) -> Result<Self, Self::Rejection> {
        let AnySession(auth, caller) = AnySession::from_request_parts(parts, app).await?;
        auth.require_usable()?;
        Ok(Session(caller))
    }
}
