//! `/admin/directories`: domains' LDAP and Active Directory connections. Administrators see
//! their domains' settings; system administrators also connect a domain, store the bind
//! password, test the connection and sync, through the same use cases as the API.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller, DirectoryInput};
use deskward_core::{DomainName, Role};
use deskward_proto::{AuthOrder, Directory};
use serde::Deserialize;

use super::{canonical, failure, html, message, posted, refused, usable};
use crate::extract::AnySession;
use crate::{ApiError, State, convert};

#[derive(Template)]
#[template(path = "admin_directories.html")]
struct ListPage {
    domains: Vec<(String, bool)>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_directory.html")]
struct DirectoryPage {
    csrf: String,
    domain: String,
    /// System administrators change settings; others only read them.
    may_change: bool,
    directory: Option<Directory>,
    /// The order of the domain's back ends, as `local, directory, plugin:x`.
    order: Option<AuthOrder>,
    base_dns: String,
    keep_groups: String,
    notice: Option<String>,
    error: Option<String>,
}

pub(super) async fn list(Extract(app): Extract<State>, session: Result<AnySession, ApiError>) -> Response {
    let (_, caller) = match usable(session) {
        Ok(s) => s,
        Err(to) => return Redirect::to(to).into_response(),
    };
    let domains = match app.list_domains(&caller).await {
        Ok(d) => d,
        Err(e) => return refused(html(&ListPage { domains: Vec::new(), error: Some(message(&e)) }, crate::error::status_and_code(&e).0), e),
    };
    let connected = app.directory_domains().await.unwrap_or_default();
    let domains = domains.into_iter().map(|d| (d.name.clone(), connected.contains(&d.name))).collect();
    html(&ListPage { domains, error: None }, StatusCode::OK)
}

#[derive(Deserialize)]
pub(super) struct Notice {
    done: Option<String>,
}

pub(super) async fn page(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, q: Result<Query<Notice>, QueryRejection>) -> Response {
    let (auth, caller) = match usable(session) {
        Ok(s) => s,
        Err(to) => return Redirect::to(to).into_response(),
    };
    let notice = q.ok().and_then(|Query(n)| n.done).map(|d| match d.as_str() {
        "saved" => "The settings are saved.".to_owned(),
        "password" => "The bind password is stored.".to_owned(),
        "order" => "The order of the back ends is saved.".to_owned(),
        other => other.chars().filter(|c| c.is_ascii_alphanumeric() || " ,.:".contains(*c)).take(200).collect(),
    });
    render(&app, &auth.csrf_token(), &caller, &domain, notice, None).await
}

/// The page, with a notice or the error of a refused form.
async fn render(app: &State, csrf: &str, caller: &Caller, domain: &str, notice: Option<String>, error: Option<(StatusCode, String)>) -> Response {
    let directory = match app.directory(caller, domain).await {
        Ok(d) => Some(convert::directory(&d)),
        Err(AppError::NotFound(_)) => None,
        Err(e) => {
            let page = DirectoryPage { csrf: String::new(), domain: domain.to_owned(), may_change: false, directory: None, order: None, base_dns: String::new(), keep_groups: String::new(), notice: None, error: Some(message(&e)) };
            return refused(html(&page, crate::error::status_and_code(&e).0), e);
        }
    };
    let base_dns = directory.as_ref().map(|d| d.base_dns.join("\n")).unwrap_or_default();
    let keep_groups = directory.as_ref().map(|d| d.group_map.iter().map(|m| format!("{}={}", m.directory_group, m.group)).collect::<Vec<_>>().join("\n")).unwrap_or_default();
    let order = app.auth_order(caller, domain).await.ok().map(|o| convert::auth_order(&o));
    let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
    let page = DirectoryPage { csrf: csrf.to_owned(), domain: domain.to_owned(), may_change: caller.actor.role() == Role::SystemAdmin, directory, order, base_dns, keep_groups, notice, error };
    html(&page, status)
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    csrf: String,
    url: String,
    security: String,
    preset: String,
    bind_dn: String,
    base_dns: String,
    user_filter: String,
    keep_groups: String,
    class: String,
    ca_certificate: String,
    timeout_ms: String,
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

pub(super) async fn save(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<SettingsForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/directories/{domain}").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let mut group_map = Vec::new();
    for line in lines(&form.keep_groups) {
        let Some((dn, group)) = line.rsplit_once('=') else {
            let e = AppError::Invalid(format!("write each kept group as DN=GROUP, not {line:?}"));
            return render(&app, &auth.csrf_token(), &caller, &domain, None, Some((StatusCode::BAD_REQUEST, message(&e)))).await;
        };
        group_map.push((dn.trim().to_owned(), group.trim().to_owned()));
    }
    let timeout_ms = match optional(&form.timeout_ms).map(|t| t.parse::<i64>()) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            let e = AppError::Invalid("the timeout is a number of milliseconds".into());
            return render(&app, &auth.csrf_token(), &caller, &domain, None, Some((StatusCode::BAD_REQUEST, message(&e)))).await;
        }
    };
    let input = DirectoryInput {
        url: form.url,
        security: form.security,
        preset: form.preset,
        bind_dn: form.bind_dn,
        base_dns: lines(&form.base_dns),
        user_filter: optional(&form.user_filter),
        group_map,
        new_account_class: optional(&form.class),
        ca_certificate: optional(&form.ca_certificate),
        timeout_ms,
        ..DirectoryInput::default()
    };
    match app.set_directory(&caller, &domain, &input).await {
        Ok(_) => Redirect::to(&format!("/admin/directories/{domain}?done=saved")).into_response(),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

async fn failed(app: &State, csrf: &str, caller: &Caller, domain: &str, e: AppError) -> Response {
    refused(render(app, csrf, caller, domain, None, Some(failure(&e))).await, e)
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    csrf: String,
    password: String,
}

pub(super) async fn password(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<PasswordForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/directories/{domain}/bind-password").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    match app.set_directory_password(&caller, &domain, Some(&form.password)).await {
        Ok(()) => Redirect::to(&format!("/admin/directories/{domain}?done=password")).into_response(),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct TestForm {
    csrf: String,
    login: String,
}

/// A connection test reads only, so its answer is the page itself.
pub(super) async fn test(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<TestForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/directories/{domain}/test").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let login = optional(&form.login);
    match app.test_directory(&caller, &domain, login.as_deref()).await {
        Ok(t) => {
            let notice = match t.entry {
                Some(e) => format!("Connected and bound. Found {} ({}){}.", e.dn, e.mail.unwrap_or_default(), if e.disabled { ", disabled in the directory" } else { "" }),
                None => "Connected and bound.".to_owned(),
            };
            render(&app, &auth.csrf_token(), &caller, &domain, Some(notice), None).await
        }
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct SyncForm {
    csrf: String,
}

pub(super) async fn sync(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<SyncForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/directories/{domain}/sync").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    match app.sync_directory(&caller, &domain, &|_, _| {}).await {
        Ok(r) => {
            let done = format!(
                "Synced: {} entries, {} accounts, {} blocked, {} unblocked, {} regrouped, {} with a new mail address.",
                r.entries,
                r.accounts,
                r.blocked.len(),
                r.unblocked.len(),
                r.regrouped.len(),
                r.remailed.len()
            );
            let query: String = done.chars().map(|c| if c == ' ' { '+' } else { c }).collect();
            Redirect::to(&format!("/admin/directories/{domain}?done={query}")).into_response()
        }
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct OrderForm {
    csrf: String,
    backends: String,
    /// Present when the reset button was pressed.
    reset: Option<String>,
}

/// Sets the order of the domain's back ends (or puts the default back).
pub(super) async fn order(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<OrderForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/directories/{domain}/auth-order").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let backends: Vec<String> = form.backends.split([',', ' ', '\n']).map(str::trim).filter(|b| !b.is_empty()).map(str::to_owned).collect();
    let names = if form.reset.is_some() { None } else { Some(backends.as_slice()) };
    match app.set_auth_order(&caller, &domain, names).await {
        Ok(_) => Redirect::to(&format!("/admin/directories/{domain}?done=order")).into_response(),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}
