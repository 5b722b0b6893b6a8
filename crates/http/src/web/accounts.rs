//! `/admin/domains/{domain}/accounts`: a domain's accounts for its administrators (and system
//! administrators): create one, change its role and status, set its password, remove it. Every
//! form goes through the same use cases as the API, so the rights, the password policy, the
//! "one enabled system admin" rule and the audit records are theirs.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AccountChange, AppError, Caller, NewAccountInput};
use deskward_core::Role;
use deskward_core::audit::timestamp;
use deskward_store::AccountRow;
use serde::Deserialize;

use deskward_core::{AccountName, DomainName};

use super::{canonical, failure, html, posted, refused, usable};
use crate::extract::AnySession;
use crate::{ApiError, State};

struct AccountLine {
    name: String,
    role: &'static str,
    class: String,
    disabled: bool,
    /// Where its password is checked, when not here: a directory or a plugin.
    external: Option<String>,
    must_change_password: bool,
    last_login: String,
    /// The caller's own account: it cannot be removed from here.
    own: bool,
}

#[derive(Template)]
#[template(path = "admin_accounts.html")]
struct AccountsPage {
    csrf: String,
    domain: String,
    /// The roles the caller may give.
    roles: Vec<&'static str>,
    classes: Vec<String>,
    accounts: Vec<AccountLine>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Notice {
    done: Option<String>,
    name: Option<String>,
}

pub(super) async fn page(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, q: Result<Query<Notice>, QueryRejection>) -> Response {
    let (auth, caller) = match usable(session) {
        Ok(s) => s,
        Err(to) => return Redirect::to(to).into_response(),
    };
    let notice = q.ok().and_then(|Query(n)| Some((n.done?, n.name?)));
    render(&app, &auth.csrf_token(), &caller, &domain, notice, None).await
}

/// The page, with what was just done (`(done, account)`, kept only when the account is listed
/// or was removed) or an error.
async fn render(app: &State, csrf: &str, caller: &Caller, domain: &str, done: Option<(String, String)>, error: Option<(StatusCode, String)>) -> Response {
    let listed = async { Ok::<_, AppError>((app.list_accounts(caller, domain).await?, app.list_classes(caller, domain).await?)) }.await;
    let (accounts, classes) = match listed {
        Ok(l) => l,
        Err(e) => {
            let (status, error) = failure(&e);
            let page = AccountsPage { csrf: String::new(), domain: domain.to_owned(), roles: Vec::new(), classes: Vec::new(), accounts: Vec::new(), notice: None, error: Some(error) };
            return refused(html(&page, status), e);
        }
    };
    let notice = done.and_then(|(done, name)| {
        let known = accounts.iter().any(|a| a.name == name);
        match done.as_str() {
            "created" if known => Some(format!("The account {name}@{domain} is created.")),
            "saved" if known => Some(format!("The account {name}@{domain} is saved.")),
            "password" if known => Some(format!("The password of {name}@{domain} is set; its sessions have ended.")),
            "removed" if !known && AccountName::parse(&name).is_ok() => Some(format!("The account {name}@{domain} is removed.")),
            _ => None,
        }
    });
    let own = match caller.actor {
        deskward_core::authz::Actor::Account { account_id, .. } => Some(account_id),
        deskward_core::authz::Actor::Operator => None,
    };
    let accounts = accounts.into_iter().map(|a| line(a, own)).collect();
    let roles = Role::ALL.into_iter().filter(|r| caller.actor.may_touch_role(*r).is_ok()).map(Role::as_str).collect();
    let classes = classes.into_iter().map(|c| c.name).collect();
    let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
    html(&AccountsPage { csrf: csrf.to_owned(), domain: domain.to_owned(), roles, classes, accounts, notice, error }, status)
}

fn line(a: AccountRow, own: Option<i64>) -> AccountLine {
    let external = match (&a.directory_dn, &a.auth_plugin) {
        (Some(_), _) if a.directory_blocked => Some("directory (blocked by a sync)".to_owned()),
        (Some(_), _) => Some("directory".to_owned()),
        (None, Some((plugin, _))) => Some(format!("plugin {plugin}")),
        (None, None) => None,
    };
    AccountLine {
        own: own == Some(a.id),
        role: a.role.as_str(),
        class: a.class.unwrap_or_default(),
        disabled: a.disabled,
        external,
        must_change_password: a.must_change_password,
        last_login: a.last_login_at.map(timestamp).unwrap_or_else(|| "never".into()),
        name: a.name,
    }
}

/// A failed form: the page again, with the error, answered with the error's status.
async fn failed(app: &State, csrf: &str, caller: &Caller, domain: &str, e: AppError) -> Response {
    refused(render(app, csrf, caller, domain, None, Some(failure(&e))).await, e)
}

fn done(domain: &str, what: &str, name: &str) -> Response {
    Redirect::to(&format!("/admin/domains/{domain}/accounts?done={what}&name={name}")).into_response()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    csrf: String,
    name: String,
    role: String,
    #[serde(default)]
    class: String,
    #[serde(default)]
    password: String,
    must_change_password: Option<String>,
    #[serde(default)]
    email: String,
}

pub(super) async fn create(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<CreateForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/accounts").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let input = NewAccountInput {
        name: form.name,
        role: form.role,
        class: optional(&form.class),
        // An empty password leaves the account without one: it cannot log in until one is set.
        password: Some(form.password).filter(|p| !p.is_empty()),
        must_change_password: form.must_change_password.is_some(),
        email: optional(&form.email),
    };
    match app.create_account(&caller, &domain, &input).await {
        Ok(row) => done(&domain, "created", &row.name),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct SaveForm {
    csrf: String,
    role: String,
    /// Absent keeps the class; empty removes it.
    class: Option<String>,
    disabled: Option<String>,
    must_change_password: Option<String>,
}

pub(super) async fn save(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path((domain, name)): Path<(String, String)>, Form(form): Form<SaveForm>) -> Response {
    let (domain, name) = (canonical(domain, DomainName::parse), canonical(name, AccountName::parse));
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/accounts/{name}").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let login = format!("{name}@{domain}");
    let result = async {
        let (row, _) = app.get_account(&caller, &login).await?;
        // Only what changed is set, so saving the same values records nothing.
        let (disabled, must_change) = (form.disabled.is_some(), form.must_change_password.is_some());
        let change = AccountChange {
            role: Some(form.role).filter(|r| r != row.role.as_str()),
            class: form.class.filter(|c| c != row.class.as_deref().unwrap_or_default()),
            disabled: Some(disabled).filter(|d| *d != row.disabled),
            must_change_password: Some(must_change).filter(|m| *m != row.must_change_password),
            ..AccountChange::default()
        };
        if change.role.is_some() || change.class.is_some() || change.disabled.is_some() || change.must_change_password.is_some() {
            app.update_account(&caller, &login, &change).await?;
        }
        Ok::<_, AppError>(row.name)
    }
    .await;
    match result {
        Ok(name) => done(&domain, "saved", &name),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    csrf: String,
    password: String,
    must_change_password: Option<String>,
}

pub(super) async fn password(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path((domain, name)): Path<(String, String)>, Form(form): Form<PasswordForm>) -> Response {
    let (domain, name) = (canonical(domain, DomainName::parse), canonical(name, AccountName::parse));
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/accounts/{name}/password").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    match app.set_password(&caller, &format!("{name}@{domain}"), &form.password, form.must_change_password.is_some()).await {
        Ok(()) => done(&domain, "password", &name),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct RemoveForm {
    csrf: String,
    confirm: Option<String>,
}

pub(super) async fn remove(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path((domain, name)): Path<(String, String)>, Form(form): Form<RemoveForm>) -> Response {
    let (domain, name) = (canonical(domain, DomainName::parse), canonical(name, AccountName::parse));
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/accounts/{name}/remove").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    if form.confirm.is_none() {
        let e = AppError::Invalid(format!("tick the box beside Remove to remove {name}@{domain}"));
        return failed(&app, &auth.csrf_token(), &caller, &domain, e).await;
    }
    match app.remove_account(&caller, &format!("{name}@{domain}")).await {
        Ok(()) => done(&domain, "removed", &name),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}
