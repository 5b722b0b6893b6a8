//! `/admin/domains/{domain}/groups`: a domain's groups and their members for its
//! administrators: create and remove groups, add and remove members, through the same use
//! cases (rights and audit records) as the API.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller};
use deskward_core::{AccountName, DomainName, ObjectName};
use deskward_store::GroupRow;
use serde::Deserialize;

use super::{canonical, failure, html, posted, refused, usable};
use crate::extract::AnySession;
use crate::{ApiError, State};

#[derive(Template)]
#[template(path = "admin_groups.html")]
struct GroupsPage {
    csrf: String,
    domain: String,
    groups: Vec<GroupRow>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Notice {
    done: Option<String>,
    group: Option<String>,
}

pub(super) async fn page(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, q: Result<Query<Notice>, QueryRejection>) -> Response {
    let (auth, caller) = match usable(session) {
        Ok(s) => s,
        Err(to) => return Redirect::to(to).into_response(),
    };
    let notice = q.ok().and_then(|Query(n)| Some((n.done?, n.group?)));
    render(&app, &auth.csrf_token(), &caller, &domain, notice, None).await
}

/// The page, with what was just done to which group (kept only when it makes sense of the
/// groups listed) or an error.
async fn render(app: &State, csrf: &str, caller: &Caller, domain: &str, done: Option<(String, String)>, error: Option<(StatusCode, String)>) -> Response {
    let groups = match app.list_groups(caller, domain).await {
        Ok(g) => g,
        Err(e) => {
            let (status, error) = failure(&e);
            let page = GroupsPage { csrf: String::new(), domain: domain.to_owned(), groups: Vec::new(), notice: None, error: Some(error) };
            return refused(html(&page, status), e);
        }
    };
    let notice = done.and_then(|(done, group)| {
        let known = groups.iter().any(|g| g.name == group);
        match done.as_str() {
            "created" if known => Some(format!("The group {group} is created.")),
            "members" if known => Some(format!("The members of {group} are saved.")),
            "removed" if !known && ObjectName::parse("group name", &group).is_ok() => Some(format!("The group {group} is removed.")),
            _ => None,
        }
    });
    let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
    html(&GroupsPage { csrf: csrf.to_owned(), domain: domain.to_owned(), groups, notice, error }, status)
}

async fn failed(app: &State, csrf: &str, caller: &Caller, domain: &str, e: AppError) -> Response {
    refused(render(app, csrf, caller, domain, None, Some(failure(&e))).await, e)
}

fn done(domain: &str, what: &str, group: &str) -> Response {
    Redirect::to(&format!("/admin/domains/{domain}/groups?done={what}&group={group}")).into_response()
}

fn group_name(raw: String) -> String {
    canonical(raw, |g| ObjectName::parse("group name", g))
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    csrf: String,
    name: String,
}

pub(super) async fn create(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<CreateForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/groups").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    match app.create_group(&caller, &domain, &form.name).await {
        Ok(row) => done(&domain, "created", &row.name),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct RemoveForm {
    csrf: String,
    confirm: Option<String>,
}

pub(super) async fn remove(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path((domain, group)): Path<(String, String)>, Form(form): Form<RemoveForm>) -> Response {
    let (domain, group) = (canonical(domain, DomainName::parse), group_name(group));
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/groups/{group}/remove").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    if form.confirm.is_none() {
        let e = AppError::Invalid(format!("tick the box beside Remove to remove the group {group}"));
        return failed(&app, &auth.csrf_token(), &caller, &domain, e).await;
    }
    match app.remove_group(&caller, &domain, &group).await {
        Ok(()) => done(&domain, "removed", &group),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct MemberForm {
    csrf: String,
    /// The account's name, without the domain.
    account: String,
}

pub(super) async fn add_member(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path((domain, group)): Path<(String, String)>, Form(form): Form<MemberForm>) -> Response {
    set_member(app, session, domain, group, form, true).await
}

pub(super) async fn remove_member(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path((domain, group)): Path<(String, String)>, Form(form): Form<MemberForm>) -> Response {
    set_member(app, session, domain, group, form, false).await
}

async fn set_member(app: State, session: Result<AnySession, ApiError>, domain: String, group: String, form: MemberForm, member: bool) -> Response {
    let (domain, group) = (canonical(domain, DomainName::parse), group_name(group));
    let path = if member { "/admin/domains/{domain}/groups/{group}/members" } else { "/admin/domains/{domain}/groups/{group}/members/remove" };
    let (auth, caller) = match posted(&app, session, &form.csrf, path).await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    // A login typed whole is accepted when it names this domain.
    let account = form.account.trim();
    let account = account.strip_suffix(&format!("@{domain}")).unwrap_or(account);
    if let Err(e) = AccountName::parse(account) {
        return failed(&app, &auth.csrf_token(), &caller, &domain, AppError::Invalid(e.to_string())).await;
    }
    match app.set_member(&caller, &domain, &group, account, member).await {
        Ok(row) => done(&domain, "members", &row.name),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}
