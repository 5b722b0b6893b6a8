//! `/admin/domains`: the domains an administrator may see, with how long their audit records
//! stay in the store and whether their conversations are logged. System administrators change
//! both here, and create, disable, enable and remove domains, through the same use cases as
//! the API; domain admins only read them.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller};
use deskward_core::{DomainName, Role};
use deskward_store::DomainRow;
use serde::Deserialize;

use super::{canonical, failure, html, posted, refused, usable};
use crate::extract::AnySession;
use crate::{ApiError, State};

#[derive(Template)]
#[template(path = "admin_domains.html")]
struct DomainsPage {
    csrf: String,
    may_change: bool,
    domains: Vec<DomainRow>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Notice {
    done: Option<String>,
    domain: Option<String>,
}

pub(super) async fn list(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, q: Result<Query<Notice>, QueryRejection>) -> Response {
    let (auth, caller) = match usable(session) {
        Ok(s) => s,
        Err(to) => return Redirect::to(to).into_response(),
    };
    let done = q.ok().and_then(|Query(n)| Some((n.done?, n.domain?)));
    render(&app, &auth.csrf_token(), &caller, done, None).await
}

/// The page, with what was just done to which domain or an error. The notice names a domain
/// the caller may see (or one just removed); anything else is dropped.
async fn render(app: &State, csrf: &str, caller: &Caller, done: Option<(String, String)>, error: Option<(StatusCode, String)>) -> Response {
    let may_change = caller.actor.role() == Role::SystemAdmin;
    match app.list_domains(caller).await {
        Ok(domains) => {
            let notice = done.and_then(|(done, name)| {
                let known = domains.iter().any(|d| d.name == name);
                match done.as_str() {
                    "saved" if known => Some(format!("The settings of {name} are saved.")),
                    "created" if known => Some(format!("The domain {name} is created.")),
                    "disabled" if known => Some(format!("The domain {name} is disabled: no one of it can log in.")),
                    "enabled" if known => Some(format!("The domain {name} is enabled.")),
                    "removed" if !known && may_change && DomainName::parse(&name).is_ok() => Some(format!("The domain {name} is removed.")),
                    _ => None,
                }
            });
            let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
            html(&DomainsPage { csrf: csrf.to_owned(), may_change, domains, notice, error }, status)
        }
        Err(e) => {
            let (status, error) = failure(&e);
            let page = DomainsPage { csrf: String::new(), may_change: false, domains: Vec::new(), notice: None, error: Some(error) };
            refused(html(&page, status), e)
        }
    }
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    csrf: String,
    /// Days; empty or 0 keeps records forever.
    #[serde(default)]
    audit_retention_days: String,
    im_logging: Option<String>,
}

pub(super) async fn save(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<SettingsForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let days = match form.audit_retention_days.trim() {
        "" | "0" => None,
        n => match n.parse::<u32>() {
            Ok(d) => Some(d),
            Err(_) => {
                let e = AppError::Invalid("keep audit records for a number of days, or leave it empty to keep them forever".into());
                return failed(&app, &auth.csrf_token(), &caller, e).await;
            }
        },
    };
    let result = async {
        let row = app.get_domain(&caller, &domain).await?;
        // Only what changed is set, so a save records only real changes.
        if row.audit_retention_days != days.map(i64::from) {
            app.set_audit_retention(&caller, &domain, days).await?;
        }
        app.set_im_logging(&caller, &domain, form.im_logging.is_some()).await
    }
    .await;
    match result {
        Ok(row) => done("saved", &row.name),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, e).await,
    }
}

fn done(what: &str, domain: &str) -> Response {
    Redirect::to(&format!("/admin/domains?done={what}&domain={domain}")).into_response()
}

async fn failed(app: &State, csrf: &str, caller: &Caller, e: AppError) -> Response {
    refused(render(app, csrf, caller, None, Some(failure(&e))).await, e)
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    csrf: String,
    name: String,
}

pub(super) async fn create(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Form(form): Form<CreateForm>) -> Response {
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    match app.create_domain(&caller, &form.name).await {
        Ok(row) => done("created", &row.name),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct StatusForm {
    csrf: String,
    /// `on` to disable the domain, anything else to enable it.
    disabled: String,
}

pub(super) async fn status(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<StatusForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/status").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let disabled = form.disabled == "on";
    match app.set_domain_disabled(&caller, &domain, disabled).await {
        Ok(row) => done(if disabled { "disabled" } else { "enabled" }, &row.name),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct RemoveForm {
    csrf: String,
    confirm: Option<String>,
}

pub(super) async fn remove(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<RemoveForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/remove").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    if form.confirm.is_none() {
        let e = AppError::Invalid(format!("tick the box beside Remove to remove {domain} with all its accounts, groups and documents"));
        return failed(&app, &auth.csrf_token(), &caller, e).await;
    }
    match app.remove_domain(&caller, &domain).await {
        Ok(()) => done("removed", &domain),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, e).await,
    }
}
