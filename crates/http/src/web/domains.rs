//! `/admin/domains`: the domains an administrator may see, with how long their audit records
//! stay in the store and whether their conversations are logged. System administrators change
//! both here, through the same use cases as the API; domain admins only read them.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller};
use deskward_core::Role;
use deskward_store::DomainRow;
use serde::Deserialize;

use super::{html, message, posted, refused, usable};
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
    saved: Option<String>,
}

pub(super) async fn list(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, q: Result<Query<Notice>, QueryRejection>) -> Response {
    let (auth, caller) = match usable(session) {
        Ok(s) => s,
        Err(to) => return Redirect::to(to).into_response(),
    };
    // The notice names a domain the caller may see; anything else is dropped.
    let saved = q.ok().and_then(|Query(n)| n.saved);
    render(&app, &auth.csrf_token(), &caller, saved, None).await
}

async fn render(app: &State, csrf: &str, caller: &Caller, saved: Option<String>, error: Option<(StatusCode, String)>) -> Response {
    let may_change = caller.actor.role() == Role::SystemAdmin;
    match app.list_domains(caller).await {
        Ok(domains) => {
            let notice = saved.filter(|s| domains.iter().any(|d| d.name == *s)).map(|d| format!("The settings of {d} are saved."));
            let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
            html(&DomainsPage { csrf: csrf.to_owned(), may_change, domains, notice, error }, status)
        }
        Err(e) => {
            let status = crate::error::status_and_code(&e).0;
            let page = DomainsPage { csrf: String::new(), may_change: false, domains: Vec::new(), notice: None, error: Some(message(&e)) };
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
                return render(&app, &auth.csrf_token(), &caller, None, Some((StatusCode::BAD_REQUEST, message(&e)))).await;
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
        Ok(row) => Redirect::to(&format!("/admin/domains?saved={}", row.name)).into_response(),
        Err(e) => {
            let status = crate::error::status_and_code(&e).0;
            refused(render(&app, &auth.csrf_token(), &caller, None, Some((status, message(&e)))).await, e)
        }
    }
}
