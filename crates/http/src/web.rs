//! The server-rendered pages: log in, the account page (who, sessions, recent logins, password
//! change), log out, the address confirmation, the administration pages (`web/audit.rs`,
//! `web/secrets.rs`, `web/bans.rs`, `web/directory.rs`, `web/domains.rs`, a domain's accounts, groups, user
//! classes, password policies, sign-in rules and login mails in `web/accounts.rs`, `web/groups.rs`,
//! `web/classes.rs`, `web/policies.rs`, `web/sign_in.rs` and `web/notifications.rs`), folders and documents (`web/documents.rs`), their
//! sharing page (`web/sharing.rs`) and share links (`web/shared_links.rs`), and Kerberos single sign-on (`web/kerberos.rs`). The pattern every
//! page follows:
//!
//! - a page is an askama template (`templates/*.html`, HTML-escaped by default) filled by a
//!   handler that calls the same use cases as the API;
//! - no inline script or style: the Content-Security-Policy (`headers.rs`) allows only this
//!   server's stylesheet and forms posting back to it;
//! - every form carries a CSRF token checked in constant time: before login a random value
//!   also held in a `__Host-` cookie (double submit), after login one derived from the
//!   session (`Authenticated::csrf_token`); a mismatch is refused and is a security event;
//! - state changes are POSTs answered with a redirect (303), so a reload repeats nothing.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, State as Extract};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use deskward_app::{AppError, Authenticated, Caller};
use serde::Deserialize;
use subtle::ConstantTimeEq;

mod accounts;
mod audit;
mod bans;
mod classes;
mod directory;
mod documents;
mod domains;
mod groups;
mod kerberos;
mod notifications;
mod policies;
mod secrets;
mod shared_links;
mod sharing;
mod sign_in;

use crate::api::me::cookie;
use crate::extract::{AnySession, Client, cookie_value};
use crate::{ApiError, State, convert};

/// The double-submit cookie of the login form.
const CSRF_COOKIE: &str = "__Host-deskward_csrf";

/// While an administrator acts for an account, their own session's token, so that ending the
/// impersonation brings them back (docs/impersonation.md).
const RETURN_COOKIE: &str = "__Host-deskward_return";

/// Every page route, for the tests.
pub const PAGES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/login/kerberos"),
    ("GET", "/account"),
    ("POST", "/account/password"),
    ("POST", "/account/sessions/{id}/end"),
    ("POST", "/account/impersonate"),
    ("POST", "/logout"),
    ("GET", "/verify-address/{token}"),
    ("POST", "/verify-address/{token}"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/audit/{chain}"),
    ("GET", "/admin/audit/{chain}/{day}"),
    ("GET", "/admin/domains"),
    ("POST", "/admin/domains"),
    ("POST", "/admin/domains/{domain}"),
    ("POST", "/admin/domains/{domain}/status"),
    ("POST", "/admin/domains/{domain}/remove"),
    ("GET", "/admin/domains/{domain}/accounts"),
    ("POST", "/admin/domains/{domain}/accounts"),
    ("POST", "/admin/domains/{domain}/accounts/{name}"),
    ("POST", "/admin/domains/{domain}/accounts/{name}/password"),
    ("POST", "/admin/domains/{domain}/accounts/{name}/remove"),
    ("GET", "/admin/domains/{domain}/groups"),
    ("POST", "/admin/domains/{domain}/groups"),
    ("POST", "/admin/domains/{domain}/groups/{group}/remove"),
    ("POST", "/admin/domains/{domain}/groups/{group}/members"),
    ("POST", "/admin/domains/{domain}/groups/{group}/members/remove"),
    ("GET", "/admin/domains/{domain}/classes"),
    ("POST", "/admin/domains/{domain}/classes"),
    ("POST", "/admin/domains/{domain}/classes/{class}"),
    ("POST", "/admin/domains/{domain}/classes/{class}/remove"),
    ("GET", "/admin/domains/{domain}/policies"),
    ("POST", "/admin/domains/{domain}/policies/{who}"),
    ("GET", "/admin/domains/{domain}/sign-in"),
    ("POST", "/admin/domains/{domain}/sign-in/sessions"),
    ("POST", "/admin/domains/{domain}/sign-in/allow-list"),
    ("GET", "/admin/domains/{domain}/notifications"),
    ("POST", "/admin/domains/{domain}/notifications"),
    ("GET", "/admin/secrets"),
    ("POST", "/admin/secrets/enable"),
    ("GET", "/admin/bans"),
    ("POST", "/admin/bans"),
    ("POST", "/admin/bans/lift"),
    ("GET", "/admin/directories"),
    ("GET", "/admin/directories/{domain}"),
    ("POST", "/admin/directories/{domain}"),
    ("POST", "/admin/directories/{domain}/bind-password"),
    ("POST", "/admin/directories/{domain}/test"),
    ("POST", "/admin/directories/{domain}/sync"),
    ("POST", "/admin/directories/{domain}/auth-order"),
    ("GET", "/documents"),
    ("POST", "/documents/folders"),
    ("POST", "/documents/upload"),
    ("GET", "/documents/{id}"),
    ("POST", "/documents/{id}/folders"),
    ("POST", "/documents/{id}/upload"),
    ("POST", "/documents/{id}/version"),
    ("POST", "/documents/{id}/rename"),
    ("POST", "/documents/{id}/move"),
    ("POST", "/documents/{id}/delete"),
    ("GET", "/documents/{id}/download"),
    ("GET", "/documents/{id}/sharing"),
    ("POST", "/documents/{id}/sharing/grants"),
    ("POST", "/documents/{id}/sharing/grants/remove"),
    ("POST", "/documents/{id}/sharing/inherit"),
    ("POST", "/documents/{id}/sharing/link"),
    ("POST", "/documents/{id}/sharing/link/remove"),
    ("POST", "/documents/{id}/sharing/password"),
    ("POST", "/documents/{id}/sharing/explain"),
    ("GET", "/s/{token}"),
    ("POST", "/s/{token}"),
    ("GET", "/s/{token}/download"),
    ("POST", "/s/{token}/download"),
    ("GET", "/static/deskward.css"),
];

pub fn routes() -> Router<State> {
    Router::new()
        .route("/", get(root))
        .route("/login", get(login_page).post(login_submit))
        .route("/login/kerberos", get(kerberos::sign_on))
        .route("/account", get(account))
        .route("/account/password", post(change_password))
        .route("/account/sessions/{id}/end", post(end_session))
        .route("/account/impersonate", post(impersonate))
        .route("/logout", post(logout))
        .route("/verify-address/{token}", get(verify_address).post(confirm_address))
        .route("/admin/audit", get(audit::search))
        .route("/admin/audit/{chain}", get(audit::days))
        .route("/admin/audit/{chain}/{day}", get(audit::day))
        .route("/admin/domains", get(domains::list).post(domains::create))
        .route("/admin/domains/{domain}", post(domains::save))
        .route("/admin/domains/{domain}/status", post(domains::status))
        .route("/admin/domains/{domain}/remove", post(domains::remove))
        .route("/admin/domains/{domain}/accounts", get(accounts::page).post(accounts::create))
        .route("/admin/domains/{domain}/accounts/{name}", post(accounts::save))
        .route("/admin/domains/{domain}/accounts/{name}/password", post(accounts::password))
        .route("/admin/domains/{domain}/accounts/{name}/remove", post(accounts::remove))
        .route("/admin/domains/{domain}/groups", get(groups::page).post(groups::create))
        .route("/admin/domains/{domain}/groups/{group}/remove", post(groups::remove))
        .route("/admin/domains/{domain}/groups/{group}/members", post(groups::add_member))
        .route("/admin/domains/{domain}/groups/{group}/members/remove", post(groups::remove_member))
        .route("/admin/domains/{domain}/classes", get(classes::page).post(classes::create))
        .route("/admin/domains/{domain}/classes/{class}", post(classes::save))
        .route("/admin/domains/{domain}/classes/{class}/remove", post(classes::remove))
        .route("/admin/domains/{domain}/policies", get(policies::page))
        .route("/admin/domains/{domain}/policies/{who}", post(policies::save))
        .route("/admin/domains/{domain}/sign-in", get(sign_in::page))
        .route("/admin/domains/{domain}/sign-in/sessions", post(sign_in::sessions))
        .route("/admin/domains/{domain}/sign-in/allow-list", post(sign_in::allow_list))
        .route("/admin/domains/{domain}/notifications", get(notifications::page).post(notifications::save))
        .route("/admin/secrets", get(secrets::page))
        .route("/admin/secrets/enable", post(secrets::enable))
        .route("/admin/bans", get(bans::page).post(bans::ban))
        .route("/admin/bans/lift", post(bans::lift))
        .route("/admin/directories", get(directory::list))
        .route("/admin/directories/{domain}", get(directory::page).post(directory::save))
        .route("/admin/directories/{domain}/bind-password", post(directory::password))
        .route("/admin/directories/{domain}/test", post(directory::test))
        .route("/admin/directories/{domain}/sync", post(directory::sync))
        .route("/admin/directories/{domain}/auth-order", post(directory::order))
        .route("/documents", get(documents::list))
        .route("/documents/folders", post(documents::new_top_folder))
        // Uploads stream into the document store: `documents.max_size` and the quotas bound
        // them, not the body limit of other requests (which `Multipart` would otherwise apply).
        .route("/documents/upload", post(documents::upload_top).layer(DefaultBodyLimit::disable()))
        .route("/documents/{id}", get(documents::page))
        .route("/documents/{id}/folders", post(documents::new_folder))
        .route("/documents/{id}/upload", post(documents::upload_into).layer(DefaultBodyLimit::disable()))
        .route("/documents/{id}/version", post(documents::new_version).layer(DefaultBodyLimit::disable()))
        .route("/documents/{id}/rename", post(documents::rename))
        .route("/documents/{id}/move", post(documents::move_item))
        .route("/documents/{id}/delete", post(documents::delete))
        .route("/documents/{id}/download", get(documents::download))
        .route("/documents/{id}/sharing", get(sharing::sharing))
        .route("/documents/{id}/sharing/grants", post(sharing::grant))
        .route("/documents/{id}/sharing/grants/remove", post(sharing::ungrant))
        .route("/documents/{id}/sharing/inherit", post(sharing::inherit))
        .route("/documents/{id}/sharing/link", post(sharing::make_link))
        .route("/documents/{id}/sharing/link/remove", post(sharing::remove_link))
        .route("/documents/{id}/sharing/password", post(sharing::share_password))
        .route("/documents/{id}/sharing/explain", post(sharing::explain))
        .route("/s/{token}", get(shared_links::shared).post(shared_links::shared_unlock))
        .route("/s/{token}/download", get(shared_links::shared_download).post(shared_links::shared_download_unlocked))
        .route("/static/deskward.css", get(stylesheet))
}

/// Pages that stay open to an account whose class switched the web interface off: logging
/// in and out, confirming an address, share links (which need no account) and the stylesheet.
fn open_without_web(path: &str) -> bool {
    path == "/" || path.starts_with("/login") || path == "/logout" || path.starts_with("/verify-address/") || path.starts_with("/s/") || path.starts_with("/static/")
}

#[derive(Template)]
#[template(path = "feature_off.html")]
struct FeatureOffPage {
    message: String,
    csrf: String,
}

/// Refuses every other page to a logged-in account whose class has no web interface: a 403
/// page and a `feature.denied` event, whatever the page (its API stays as the class allows).
pub(crate) async fn web_switch(Extract(app): Extract<State>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if open_without_web(req.uri().path()) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let session = <AnySession as axum::extract::FromRequestParts<State>>::from_request_parts(&mut parts, &app).await;
    if let Ok(AnySession(auth, caller)) = &session
        && !caller.features.web
    {
        let e = AppError::FeatureDisabled("the web interface".into());
        let page = FeatureOffPage { message: format!("{}; ask your administrator, or use the API if your class allows it.", capitalised(&e.to_string())), csrf: auth.csrf_token() };
        return refused(html(&page, StatusCode::FORBIDDEN), e);
    }
    next.run(axum::extract::Request::from_parts(parts, body)).await
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    login: String,
    error: Option<String>,
    /// Kerberos single sign-on is set up: the page links to it.
    sso: bool,
}

struct SessionLine {
    id: String,
    created_at: String,
    last_seen_at: String,
    /// The host name and address, or the address alone.
    from: String,
    user_agent: String,
    current: bool,
}

struct LoginLine {
    at: String,
    what: String,
    ip: String,
    host: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    csrf: String,
    login: String,
    role: String,
    domain: String,
    password_change_required: bool,
    /// Shows the link to the audit log (domain and system administrators).
    admin: bool,
    /// Shows the link to the stored secrets.
    system_admin: bool,
    /// Shows the link to the documents (the account's class includes them).
    documents: bool,
    session_ends: String,
    /// The administrator acting for the account in this session.
    acting_admin: Option<String>,
    sessions: Vec<SessionLine>,
    logins: Vec<LoginLine>,
    notice: Option<String>,
    error: Option<String>,
}

fn html(page: &impl Template, status: StatusCode) -> Response {
    match page.render() {
        Ok(body) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error; the server log has the details").into_response()
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Records a form whose CSRF token did not match and answers 403.
async fn forged(app: &State, caller: &Caller, form: &str) -> Response {
    let summary = serde_json::json!({ "form": form });
    app.security_event(caller, &caller.chain(), "request.csrf", format!("POST {form}"), summary).await;
    (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "This form has expired or did not come from this site. Go back, reload the page and try again.")
        .into_response()
}

/// A name from a page's path in the form the use cases keep it (trimmed, lower case), so that
/// the redirect after a change names the page of what changed. One that does not parse is
/// left as it is, for the use case to refuse.
fn canonical<T: std::fmt::Display, E>(raw: String, parse: impl Fn(&str) -> Result<T, E>) -> String {
    parse(&raw).map_or(raw, |name| name.to_string())
}

/// The session behind a form post: logged in, the form's CSRF token matching (a mismatch is
/// recorded by [`forged`]), and no password change pending.
async fn posted(app: &State, session: Result<AnySession, ApiError>, csrf: &str, form: &str) -> Result<(Authenticated, Caller), Response> {
    let Ok(AnySession(auth, caller)) = session else { return Err(Redirect::to("/login").into_response()) };
    if !same(&auth.csrf_token(), csrf) {
        return Err(forged(app, &caller, form).await);
    }
    if auth.session.password_change_required {
        return Err(Redirect::to("/account").into_response());
    }
    Ok((auth, caller))
}

async fn root(session: Result<AnySession, ApiError>) -> Redirect {
    if session.is_ok() { Redirect::to("/account") } else { Redirect::to("/login") }
}

async fn login_page(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, headers: HeaderMap) -> Response {
    if session.is_ok() {
        return Redirect::to("/account").into_response();
    }
    login_form(&app, &headers, String::new(), None, StatusCode::OK)
}

/// The CSRF value of a form shown before login: the visitor's cookie when it is well-formed,
/// else a new one.
fn pre_login_csrf(headers: &HeaderMap) -> String {
    cookie_value(headers, CSRF_COOKIE)
        .filter(|v| deskward_app::is_token(v))
        .map_or_else(deskward_app::random_token, str::to_owned)
}

/// A page with a pre-login form, setting the double-submit cookie.
fn with_csrf_cookie(mut response: Response, csrf: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("{CSRF_COOKIE}={csrf}; Path=/; Secure; HttpOnly; SameSite=Strict")) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// Whether a pre-login form's CSRF value matches its cookie.
fn pre_login_csrf_ok(headers: &HeaderMap, sent: &str) -> bool {
    let expected = cookie_value(headers, CSRF_COOKIE).unwrap_or("");
    !expected.is_empty() && same(expected, sent)
}

/// The login form.
fn login_form(app: &State, headers: &HeaderMap, login: String, error: Option<String>, status: StatusCode) -> Response {
    let csrf = pre_login_csrf(headers);
    let sso = app.kerberos.is_some();
    with_csrf_cookie(html(&LoginPage { csrf: csrf.clone(), login, error, sso }, status), &csrf)
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    login: String,
    password: String,
    remember: Option<String>,
}

async fn login_submit(Extract(app): Extract<State>, Client(source): Client, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    if !pre_login_csrf_ok(&headers, &form.csrf) {
        return forged(&app, &Caller::anonymous(source), "/login").await;
    }
    let login: String = form.login.chars().take(320).collect();
    match app.login(&login, &form.password, form.remember.is_some(), &source).await {
        Ok(outcome) => {
            let age = outcome.session.remembered.then(|| outcome.session.expires_at - app.now());
            let mut response = Redirect::to("/account").into_response();
            if let Ok(c) = cookie(&outcome.token, age) {
                response.headers_mut().insert(header::SET_COOKIE, c);
            }
            response
        }
        Err(e) => {
            let status = crate::error::status_and_code(&e).0;
            let mut response = login_form(&app, &headers, login, Some(login_error(&e)), status);
            if let AppError::TooManyAttempts { retry_after, .. } = e {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            }
            response
        }
    }
}

fn login_error(e: &AppError) -> String {
    match e {
        AppError::InvalidCredentials => "Wrong login or password.".into(),
        AppError::Store(_) | AppError::Internal(_) => "The server could not log you in; try again later.".into(),
        other => format!("{}.", capitalised(&other.to_string())),
    }
}

async fn account(Extract(app): Extract<State>, session: Result<AnySession, ApiError>) -> Response {
    let Ok(AnySession(auth, _)) = session else { return Redirect::to("/login").into_response() };
    account_page(&app, &auth, None, None, StatusCode::OK).await
}

async fn account_page(app: &State, auth: &Authenticated, notice: Option<String>, error: Option<String>, status: StatusCode) -> Response {
    let sessions = match app.my_sessions(auth).await {
        Ok(list) => list
            .iter()
            .map(|e| {
                let s = convert::session(e, &auth.session.token_hash);
                let from = if s.source_host.is_empty() { s.source_ip } else { format!("{} ({})", s.source_host, s.source_ip) };
                let from = match s.acting_admin {
                    Some(admin) => format!("{from}, opened by administrator {admin}"),
                    None => from,
                };
                SessionLine { id: s.id, created_at: s.created_at, last_seen_at: s.last_seen_at, from, user_agent: s.user_agent, current: s.current }
            })
            .collect(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let logins = match app.my_recent_logins(auth, 20).await {
        Ok(records) => records
            .iter()
            .map(|r| LoginLine {
                at: convert::time(r.at),
                what: match r.action.as_str() {
                    "login" => "logged in".to_owned(),
                    "login.failed" => {
                        let summary: serde_json::Value = serde_json::from_str(&r.summary).unwrap_or_default();
                        format!("failed ({})", summary["reason"].as_str().unwrap_or("unknown").replace('_', " "))
                    }
                    "login.banned" => "refused: address banned".to_owned(),
                    "login.throttled" => "refused: too many failures".to_owned(),
                    "login.impersonation" => {
                        let summary: serde_json::Value = serde_json::from_str(&r.summary).unwrap_or_default();
                        format!("administrator {} acted for you: {}", r.actor, summary["reason"].as_str().unwrap_or(""))
                    }
                    other => other.to_owned(),
                },
                ip: r.source_ip.clone(),
                host: r.source_host.clone(),
            })
            .collect(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let page = AccountPage {
        csrf: auth.csrf_token(),
        login: auth.account.login(),
        role: auth.account.role.to_string(),
        domain: auth.account.domain.clone(),
        password_change_required: auth.session.password_change_required,
        admin: matches!(auth.account.role, deskward_core::Role::SystemAdmin | deskward_core::Role::DomainAdmin),
        system_admin: auth.account.role == deskward_core::Role::SystemAdmin,
        documents: auth.features.documents,
        session_ends: convert::time(auth.session.expires_at),
        acting_admin: auth.session.acting_admin.as_ref().map(|a| a.1.clone()),
        sessions,
        logins,
        notice,
        error,
    };
    html(&page, status)
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
}

async fn change_password(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Form(form): Form<PasswordForm>) -> Response {
    let Ok(AnySession(mut auth, caller)) = session else { return Redirect::to("/login").into_response() };
    if !same(&auth.csrf_token(), &form.csrf) {
        return forged(&app, &caller, "/account/password").await;
    }
    match app.change_own_password(&caller, &auth, &form.current_password, &form.new_password).await {
        Ok(()) => {
            auth.session.password_change_required = false;
            let notice = "Your password was changed; your other sessions were ended.".to_owned();
            account_page(&app, &auth, Some(notice), None, StatusCode::OK).await
        }
        Err(e) => {
            let status = crate::error::status_and_code(&e).0;
            account_page(&app, &auth, None, Some(e.to_string()), status).await
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn end_session(
    Extract(app): Extract<State>,
    session: Result<AnySession, ApiError>,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Ok(AnySession(auth, caller)) = session else { return Redirect::to("/login").into_response() };
    if !same(&auth.csrf_token(), &form.csrf) {
        return forged(&app, &caller, "/account/sessions").await;
    }
    match app.end_my_session(&caller, &auth, &id).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => {
            let status = crate::error::status_and_code(&e).0;
            account_page(&app, &auth, None, Some(e.to_string()), status).await
        }
    }
}

async fn logout(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let Ok(AnySession(auth, caller)) = session else { return Redirect::to("/login").into_response() };
    if !same(&auth.csrf_token(), &form.csrf) {
        return forged(&app, &caller, "/logout").await;
    }
    if let Err(e) = app.logout(&caller, &auth).await {
        return ApiError::from(e).into_response();
    }
    // Ending an impersonation brings the administrator back to their own session while it
    // lasts, and only to a session of that administrator.
    let back = match (&auth.session.acting_admin, cookie_value(&headers, RETURN_COOKIE)) {
        (Some((admin_id, _)), Some(token)) => match app.authenticate(token, false).await {
            Ok(admin) if admin.account.id == *admin_id => Some(token.to_owned()),
            _ => None,
        },
        _ => None,
    };
    let mut response = Redirect::to(if back.is_some() { "/account" } else { "/login" }).into_response();
    if let Ok(c) = cookie(back.as_deref().unwrap_or(""), if back.is_some() { None } else { Some(0) }) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    if let Ok(c) = HeaderValue::from_str(&format!("{RETURN_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

#[derive(Deserialize)]
struct ImpersonateForm {
    csrf: String,
    login: String,
    reason: String,
}

/// An administrator acts for an account: the browser switches to the new session, keeping
/// the administrator's token aside for the way back.
async fn impersonate(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, headers: HeaderMap, Form(form): Form<ImpersonateForm>) -> Response {
    let Ok(AnySession(auth, caller)) = session else { return Redirect::to("/login").into_response() };
    if !same(&auth.csrf_token(), &form.csrf) {
        return forged(&app, &caller, "/account/impersonate").await;
    }
    if auth.session.password_change_required {
        return account_page(&app, &auth, None, Some("Change your password first.".into()), StatusCode::FORBIDDEN).await;
    }
    let login: String = form.login.trim().chars().take(320).collect();
    let outcome = match app.impersonate(&caller, &login, &form.reason).await {
        Ok(outcome) => outcome,
        Err(e) => {
            let status = crate::error::status_and_code(&e).0;
            let response = account_page(&app, &auth, None, Some(message(&e)), status).await;
            return refused(response, e);
        }
    };
    let mut response = Redirect::to("/account").into_response();
    if let Ok(c) = cookie(&outcome.token, None) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    if let Some(own) = cookie_value(&headers, crate::extract::SESSION_COOKIE)
        && let Ok(c) = HeaderValue::from_str(&format!("{RETURN_COOKIE}={own}; Path=/; Secure; HttpOnly; SameSite=Strict"))
    {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

#[derive(Template)]
#[template(path = "verify_address.html")]
struct VerifyAddressPage {
    csrf: String,
    token: String,
    pending: Option<deskward_app::PendingAddress>,
    notice: Option<String>,
    error: Option<String>,
}

/// The page a mailed verification link opens: it shows what would be trusted and asks for a
/// click, because mail scanners open links by themselves and must not use them up.
async fn verify_address(Extract(app): Extract<State>, Client(source): Client, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let csrf = pre_login_csrf(&headers);
    let page = match app.address_link(&token, &source).await {
        Ok(pending) => VerifyAddressPage { csrf: csrf.clone(), token, pending: Some(pending), notice: None, error: None },
        Err(e) => return link_error(&e, csrf),
    };
    with_csrf_cookie(html(&page, StatusCode::OK), &csrf)
}

async fn confirm_address(
    Extract(app): Extract<State>,
    Client(source): Client,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !pre_login_csrf_ok(&headers, &form.csrf) {
        return forged(&app, &Caller::anonymous(source), "/verify-address").await;
    }
    match app.confirm_address(&token, &source).await {
        Ok(p) => {
            let notice = format!("{} is now trusted for {}. Log in again from there.", p.network, p.login);
            html(&VerifyAddressPage { csrf: String::new(), token: String::new(), pending: None, notice: Some(notice), error: None }, StatusCode::OK)
        }
        Err(e) => link_error(&e, String::new()),
    }
}

fn link_error(e: &AppError, csrf: String) -> Response {
    let message = match e {
        AppError::NotFound(_) => "This link is not valid. Copy it from the mail in full, or log in again to get a new one.".to_owned(),
        AppError::LinkGone(m) => format!("{}.", capitalised(m)),
        _ => "The server could not check this link; try again later.".to_owned(),
    };
    let status = crate::error::status_and_code(e).0;
    html(&VerifyAddressPage { csrf, token: String::new(), pending: None, notice: None, error: Some(message) }, status)
}

/// The session and caller of someone who owes no password change, or the page to send the
/// visitor to instead.
fn usable(session: Result<AnySession, ApiError>) -> Result<(Authenticated, Caller), &'static str> {
    match session {
        Ok(AnySession(auth, _)) if auth.session.password_change_required => Err("/account"),
        Ok(AnySession(auth, caller)) => Ok((auth, caller)),
        Err(_) => Err("/login"),
    }
}

/// A failure as a page shows it: server-side details stay in the log.
fn message(e: &AppError) -> String {
    match e {
        AppError::Store(_) | AppError::Internal(_) => "The server could not do this; the server log has the details.".into(),
        other => capitalised(&other.to_string()),
    }
}

/// A failure as a page answers it: the status and the message.
fn failure(e: &AppError) -> (StatusCode, String) {
    (crate::error::status_and_code(e).0, message(e))
}

/// Marks a page refused for lack of rights (or for something the caller may not even see, or
/// a feature their class lacks), so it is recorded as a security event like the API's refusals.
fn refused(mut response: Response, e: AppError) -> Response {
    match e {
        AppError::Forbidden(reason) | AppError::Hidden(reason) => {
            response.extensions_mut().insert(crate::watch::Denied { action: "access.denied", reason });
        }
        AppError::FeatureDisabled(feature) => {
            response.extensions_mut().insert(crate::watch::Denied { action: "feature.denied", reason: feature });
        }
        _ => {}
    }
    response
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../static/deskward.css")).into_response()
}
