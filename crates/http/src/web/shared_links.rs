//! `/s/{token}`: what a share link opens without a login (its pages and downloads, with the
//! share password when the link needs one), through the use cases of `/api/v1/shared`. The
//! token is in these pages' addresses by nature, but never in a redirect or an audit record.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use deskward_app::{AppError, Caller};
use serde::Deserialize;

use super::documents::{Crumb, Row, row, rows};
use super::{forged, html, message, pre_login_csrf, pre_login_csrf_ok, with_csrf_cookie};
use crate::State;
use crate::api::items::send;
use crate::extract::Client;

/// What a share link opens.
#[derive(Template)]
#[template(path = "shared.html")]
struct SharedPage {
    csrf: String,
    token: String,
    /// The item asked for below the link's item; 0 for the link's item itself.
    at: i64,
    /// The share password that opened the page; it is carried in the forms' hidden fields
    /// (never in an address) to open folders and download.
    password: Option<String>,
    needs_password: bool,
    item: Option<Row>,
    path: Vec<Crumb>,
    children: Vec<Row>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct SharedQuery {
    item: Option<i64>,
    version: Option<i64>,
}

/// What a share link opens, through the link alone (a link granted to `public`).
pub(super) async fn shared(
    Extract(app): Extract<State>,
    Client(source): Client,
    headers: HeaderMap,
    Path(token): Path<String>,
    q: Result<Query<SharedQuery>, QueryRejection>,
) -> Response {
    let csrf = pre_login_csrf(&headers);
    let item = match q {
        Ok(Query(q)) => q.item,
        Err(_) => return shared_error(csrf, &token, None, false, AppError::Invalid("the item is a number".into())),
    };
    let caller = Caller::anonymous(source);
    shared_page(&app, csrf, &caller, token, item, None).await
}

#[derive(Deserialize)]
pub(super) struct UnlockForm {
    csrf: String,
    password: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    version: String,
}

/// An optional number from a form field; empty means none.
fn optional_number(text: &str, what: &str) -> Result<Option<i64>, AppError> {
    match text.trim() {
        "" => Ok(None),
        t => t.parse().map(Some).map_err(|_| AppError::Invalid(format!("the {what} is a number, not {t:?}"))),
    }
}

/// What a share link opens with its share password, sent in the form's body.
pub(super) async fn shared_unlock(
    Extract(app): Extract<State>,
    Client(source): Client,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<UnlockForm>,
) -> Response {
    let caller = Caller::anonymous(source);
    if !pre_login_csrf_ok(&headers, &form.csrf) {
        return forged(&app, &caller, "/s/{token}").await;
    }
    let csrf = pre_login_csrf(&headers);
    let item = match optional_number(&form.item, "item") {
        Ok(i) => i,
        Err(e) => return shared_error(csrf, &token, None, false, e),
    };
    shared_page(&app, csrf, &caller, token, item, Some(form.password)).await
}

async fn shared_page(app: &State, csrf: String, caller: &Caller, token: String, item: Option<i64>, password: Option<String>) -> Response {
    match app.shared_item(caller, &token, password.as_deref(), item).await {
        Ok(d) => {
            let page = SharedPage {
                csrf: csrf.clone(),
                token,
                at: item.unwrap_or(0),
                password,
                needs_password: false,
                item: Some(row(&d.item, d.rights)),
                path: d.path.clone(),
                children: rows(&d.children),
                error: None,
            };
            with_csrf_cookie(html(&page, StatusCode::OK), &csrf)
        }
        Err(e) => shared_error(csrf, &token, item, password.is_some(), e),
    }
}

/// A share link's page that opens nothing: the password form when the link needs one, else
/// the message. Nothing here names the token in a record: the use case records unknown links
/// and wrong passwords without it.
fn shared_error(csrf: String, token: &str, item: Option<i64>, tried: bool, e: AppError) -> Response {
    let status = crate::error::status_and_code(&e).0;
    let needs_password = matches!(e, AppError::SharePassword(_) | AppError::TooManyAttempts { .. });
    let error = match &e {
        AppError::SharePassword(_) if !tried => None,
        AppError::NotFound(_) => Some("This share link opens nothing: it was removed, replaced or mistyped.".to_owned()),
        other => Some(format!("{}.", message(other))),
    };
    let page = SharedPage {
        csrf: csrf.clone(),
        token: if needs_password { token.to_owned() } else { String::new() },
        at: item.unwrap_or(0),
        password: None,
        needs_password,
        item: None,
        path: Vec::new(),
        children: Vec::new(),
        error,
    };
    with_csrf_cookie(html(&page, status), &csrf)
}

/// A document through a link granted to `public`.
pub(super) async fn shared_download(
    Extract(app): Extract<State>,
    Client(source): Client,
    headers: HeaderMap,
    Path(token): Path<String>,
    q: Result<Query<SharedQuery>, QueryRejection>,
) -> Response {
    let csrf = pre_login_csrf(&headers);
    let Ok(Query(q)) = q else {
        return shared_error(csrf, &token, None, false, AppError::Invalid("the item and the version are numbers".into()));
    };
    let caller = Caller::anonymous(source);
    match app.shared_content(&caller, &token, None, q.item, q.version).await {
        Ok(content) => send(content),
        Err(e) => shared_error(csrf, &token, q.item, false, e),
    }
}

/// A document through a link opened with its share password, sent in the form's body.
pub(super) async fn shared_download_unlocked(
    Extract(app): Extract<State>,
    Client(source): Client,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<UnlockForm>,
) -> Response {
    let caller = Caller::anonymous(source);
    if !pre_login_csrf_ok(&headers, &form.csrf) {
        return forged(&app, &caller, "/s/{token}/download").await;
    }
    let csrf = pre_login_csrf(&headers);
    let (item, version) = match (optional_number(&form.item, "item"), optional_number(&form.version, "version")) {
        (Ok(i), Ok(v)) => (i, v),
        (Err(e), _) | (_, Err(e)) => return shared_error(csrf, &token, None, false, e),
    };
    match app.shared_content(&caller, &token, Some(&form.password), item, version).await {
        Ok(content) => send(content),
        Err(e) => shared_error(csrf, &token, item, true, e),
    }
}
