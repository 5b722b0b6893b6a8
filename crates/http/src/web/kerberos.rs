//! `/login/kerberos`: web single sign-on with SPNEGO. Without a token the answer is 401 with
//! `WWW-Authenticate: Negotiate`, which a browser holding a Kerberos ticket answers by itself;
//! its body is the login form, for browsers that cannot. With a token, a session is opened and
//! the browser goes to its account page; any failure falls back to the login form, without a
//! new challenge, so a browser does not retry in a loop.

use axum::extract::State as Extract;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use deskward_app::AppError;

use super::{login_error, login_form};
use crate::State;
use crate::api::me::cookie;
use crate::extract::Client;

pub(super) async fn sign_on(Extract(app): Extract<State>, Client(source): Client, headers: HeaderMap) -> Response {
    if app.kerberos.is_none() {
        let e = "Single sign-on is not set up on this server; log in with your password.".to_owned();
        return login_form(&app, &headers, String::new(), Some(e), StatusCode::NOT_FOUND);
    }
    let offered = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Negotiate "));
    let Some(offered) = offered else {
        let note = "Signing you in with your Kerberos ticket. If this page stays, your browser has none for this server: log in with your password.";
        let mut response = login_form(&app, &headers, String::new(), Some(note.to_owned()), StatusCode::UNAUTHORIZED);
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Negotiate"));
        return response;
    };
    // Undecodable is refused like a forged token: an empty one is never accepted.
    let token = STANDARD.decode(offered.trim()).unwrap_or_default();
    match app.kerberos_login(&token, &source).await {
        Ok((outcome, reply)) => {
            let mut response = Redirect::to("/account").into_response();
            if let Ok(c) = cookie(&outcome.token, None) {
                response.headers_mut().insert(header::SET_COOKIE, c);
            }
            if let Some(v) = reply.and_then(|r| HeaderValue::from_str(&format!("Negotiate {}", STANDARD.encode(r))).ok()) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            response
        }
        Err(e) => {
            let status = crate::error::status_and_code(&e).0;
            let message = match &e {
                AppError::InvalidCredentials => "Single sign-on did not work: the ticket was refused or names no account here. Log in with your password.".to_owned(),
                other => login_error(other),
            };
            login_form(&app, &headers, String::new(), Some(message), status)
        }
    }
}
