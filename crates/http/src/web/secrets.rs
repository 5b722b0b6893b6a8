//! `/admin/secrets`: the state of stored secrets for system administrators, and turning their
//! encryption on with both acknowledgements. Turning it off and rotating the key have no page
//! on purpose: only the host's operator may.

use askama::Template;
use axum::extract::{Form, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{Acknowledgements, Caller};
use deskward_proto::SecretsState;
use serde::Deserialize;

use super::{html, message, posted, refused, usable};
use crate::extract::AnySession;
use crate::{ApiError, State, convert};

#[derive(Template)]
#[template(path = "admin_secrets.html")]
struct SecretsPage {
    csrf: String,
    status: Option<SecretsState>,
    error: Option<String>,
}

pub(super) async fn page(Extract(app): Extract<State>, session: Result<AnySession, ApiError>) -> Response {
    match usable(session) {
        Ok((auth, caller)) => render(&app, &auth.csrf_token(), &caller, None).await,
        Err(to) => Redirect::to(to).into_response(),
    }
}

/// The page, with `error` from a refused form when there is one.
async fn render(app: &State, csrf: &str, caller: &Caller, error: Option<(StatusCode, String)>) -> Response {
    match app.secrets_status(caller).await {
        Ok(s) => {
            let (code, error) = error.map_or((StatusCode::OK, None), |(c, e)| (c, Some(e)));
            html(&SecretsPage { csrf: csrf.to_owned(), status: Some(convert::secrets_state(&s)), error }, code)
        }
        Err(e) => refused(html(&SecretsPage { csrf: String::new(), status: None, error: Some(message(&e)) }, crate::error::status_and_code(&e).0), e),
    }
}

#[derive(Deserialize)]
pub(super) struct EnableForm {
    csrf: String,
    key_loss: Option<String>,
    key_backed_up: Option<String>,
}

pub(super) async fn enable(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Form(form): Form<EnableForm>) -> Response {
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/secrets/enable").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let ack = Acknowledgements { key_loss: form.key_loss.is_some(), key_backed_up: form.key_backed_up.is_some() };
    match app.enable_encryption(&caller, ack).await {
        Ok(_) => Redirect::to("/admin/secrets").into_response(),
        Err(e) => {
            let status = crate::error::status_and_code(&e).0;
            render(&app, &auth.csrf_token(), &caller, Some((status, message(&e)))).await
        }
    }
}
