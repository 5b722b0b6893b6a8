//! `/documents/{id}/sharing`: an item's sharing page and its forms (grants, inheritance, the
//! share link, whose token is shown once on the page that answers the form that made it, the
//! share password, and "explain": why an account has its rights). The use cases of
//! `/api/v1/items` decide everything; the page shows only the forms the caller's rights allow.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller, Explanation, GrantInput};
use deskward_core::acl::Rights;
use serde::Deserialize;

use super::documents::{Crumb, CsrfForm, Done, ItemId, Row, error_page, notice, poster, rights_text, row, viewer};
use super::failure;
use super::{html, refused};
use crate::extract::AnySession;
use crate::{ApiError, State};

struct GrantLine {
    to: String,
    rights: String,
}

struct ReasonLine {
    source: String,
    item: Option<Crumb>,
    rights: String,
    inherited: bool,
}

struct ExplainView {
    account: String,
    rights: String,
    reasons: Vec<ReasonLine>,
    stopped_at: Option<i64>,
}

fn explain_view(x: &Explanation) -> ExplainView {
    ExplainView {
        account: x.account.clone(),
        rights: rights_text(x.rights),
        reasons: x
            .reasons
            .iter()
            .map(|r| ReasonLine {
                source: match (r.source, &r.principal) {
                    ("grant", Some(p)) => format!("grant to {p}"),
                    ("admin", _) => "administrator of the domain".to_owned(),
                    (other, _) => other.to_owned(),
                },
                item: r.item.clone(),
                rights: rights_text(r.rights),
                inherited: r.inherited,
            })
            .collect(),
        stopped_at: x.stopped_at,
    }
}

#[derive(Template)]
#[template(path = "document_sharing.html")]
struct SharingPage {
    csrf: String,
    item: Row,
    path: Vec<Crumb>,
    inherit: bool,
    grants: Vec<GrantLine>,
    has_link: bool,
    has_password: bool,
    /// The caller may change grants.
    may_share: bool,
    /// The caller owns or administers the item: inheritance, links and passwords.
    full: bool,
    /// A link just made: shown this once.
    link_url: Option<String>,
    explain_login: String,
    explanation: Option<ExplainView>,
    min_password: usize,
    notice: Option<String>,
    error: Option<String>,
}

/// What the sharing page shows beyond the settings.
#[derive(Default)]
struct SharingExtra {
    link_url: Option<String>,
    explain_login: String,
    explanation: Option<ExplainView>,
    notice: Option<String>,
    error: Option<(StatusCode, String)>,
}

pub(super) async fn sharing(
    Extract(app): Extract<State>,
    session: Result<AnySession, ApiError>,
    ItemId(id): ItemId,
    q: Result<Query<Done>, QueryRejection>,
) -> Response {
    match viewer(session) {
        Ok((csrf, caller)) => render_sharing(&app, csrf, &caller, id, SharingExtra { notice: notice(q), ..SharingExtra::default() }).await,
        Err(to) => to.into_response(),
    }
}

async fn render_sharing(app: &State, csrf: String, caller: &Caller, id: i64, extra: SharingExtra) -> Response {
    let d = match app.item(caller, id).await {
        Ok(d) => d,
        Err(e) => return error_page(e),
    };
    let acl = match app.item_acl(caller, id).await {
        Ok(a) => a,
        Err(e) => return error_page(e),
    };
    // The caller's own reasons tell whether they own or administer the item.
    let full = match app.explain(caller, id, None).await {
        Ok(x) => x.reasons.iter().any(|r| matches!(r.source, "owner" | "admin")),
        Err(e) => return error_page(e),
    };
    let (status, error) = extra.error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
    let page = SharingPage {
        csrf,
        item: row(&d.item, d.rights),
        path: d.path.clone(),
        inherit: acl.inherit,
        grants: acl.grants.iter().map(|g| GrantLine { to: g.to.clone(), rights: rights_text(g.rights) }).collect(),
        has_link: acl.has_link,
        has_password: acl.has_password,
        may_share: d.rights.contains(Rights::SHARE),
        full,
        link_url: extra.link_url,
        explain_login: extra.explain_login,
        explanation: extra.explanation,
        min_password: deskward_app::MIN_SHARE_PASSWORD,
        notice: extra.notice,
        error,
    };
    html(&page, status)
}

/// The sharing page with the error of a refused form.
async fn sharing_failed(app: &State, csrf: String, caller: &Caller, id: i64, e: AppError) -> Response {
    let extra = SharingExtra { error: Some(failure(&e)), ..SharingExtra::default() };
    refused(render_sharing(app, csrf, caller, id, extra).await, e)
}

/// The item's grants as the use case takes them back.
/// The item's grants and inheritance now, with their version: a form changes them and writes
/// them back only if no one else changed them meanwhile.
async fn current_grants(app: &State, caller: &Caller, id: i64) -> Result<(bool, Vec<GrantInput>, String), AppError> {
    let acl = app.item_acl(caller, id).await?;
    let grants = acl.grants.iter().map(|g| GrantInput { to: g.to.clone(), rights: g.rights.names().into_iter().map(str::to_owned).collect() }).collect();
    Ok((acl.inherit, grants, acl.version))
}

#[derive(Deserialize)]
pub(super) struct GrantForm {
    csrf: String,
    to: String,
    read: Option<String>,
    write: Option<String>,
    delete: Option<String>,
    share: Option<String>,
}

/// Adds a grant, or changes the rights of one already given to the same principal.
pub(super) async fn grant(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, ItemId(id): ItemId, Form(form): Form<GrantForm>) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/{id}/sharing/grants").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let to = form.to.trim().to_owned();
    let rights: Vec<String> = [("read", &form.read), ("write", &form.write), ("delete", &form.delete), ("share", &form.share)]
        .into_iter()
        .filter(|(_, on)| on.is_some())
        .map(|(name, _)| name.to_owned())
        .collect();
    let result = async {
        let (_, mut grants, version) = current_grants(&app, &caller, id).await?;
        match grants.iter_mut().find(|g| g.to == to) {
            Some(g) => g.rights = rights,
            None => grants.push(GrantInput { to, rights }),
        }
        app.set_item_acl(&caller, id, None, &grants, Some(&version)).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/documents/{id}/sharing?done=granted")).into_response(),
        Err(e) => sharing_failed(&app, csrf, &caller, id, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct UngrantForm {
    csrf: String,
    to: String,
}

pub(super) async fn ungrant(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, ItemId(id): ItemId, Form(form): Form<UngrantForm>) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/{id}/sharing/grants/remove").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let (_, mut grants, version) = current_grants(&app, &caller, id).await?;
        let before = grants.len();
        grants.retain(|g| g.to != form.to);
        if grants.len() == before {
            return Err(AppError::NotFound(format!("a grant to {:?}", form.to)));
        }
        app.set_item_acl(&caller, id, None, &grants, Some(&version)).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/documents/{id}/sharing?done=ungranted")).into_response(),
        Err(e) => sharing_failed(&app, csrf, &caller, id, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct InheritForm {
    csrf: String,
    /// `on` or `off`.
    inherit: String,
}

pub(super) async fn inherit(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, ItemId(id): ItemId, Form(form): Form<InheritForm>) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/{id}/sharing/inherit").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let inherit = match form.inherit.as_str() {
            "on" => true,
            "off" => false,
            other => return Err(AppError::Invalid(format!("inherit is on or off, not {other:?}"))),
        };
        let (_, grants, version) = current_grants(&app, &caller, id).await?;
        app.set_item_acl(&caller, id, Some(inherit), &grants, Some(&version)).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/documents/{id}/sharing?done=inherit")).into_response(),
        Err(e) => sharing_failed(&app, csrf, &caller, id, e).await,
    }
}

/// Makes a share link and answers the sharing page showing it: the token is shown this once
/// and never travels in a redirect.
pub(super) async fn make_link(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, ItemId(id): ItemId, Form(form): Form<CsrfForm>) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/{id}/sharing/link").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.make_link(&caller, id).await {
        Ok(token) => {
            let extra = SharingExtra {
                link_url: Some(format!("{}/s/{token}", app.notify.public_url)),
                notice: Some("The share link was made; any earlier link of this item opens nothing any more.".into()),
                ..SharingExtra::default()
            };
            render_sharing(&app, csrf, &caller, id, extra).await
        }
        Err(e) => sharing_failed(&app, csrf, &caller, id, e).await,
    }
}

pub(super) async fn remove_link(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, ItemId(id): ItemId, Form(form): Form<CsrfForm>) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/{id}/sharing/link/remove").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.remove_link(&caller, id).await {
        Ok(()) => Redirect::to(&format!("/documents/{id}/sharing?done=unlinked")).into_response(),
        Err(e) => sharing_failed(&app, csrf, &caller, id, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct SharePasswordForm {
    csrf: String,
    #[serde(default)]
    password: String,
    /// Present when the remove button was pressed.
    remove: Option<String>,
}

pub(super) async fn share_password(
    Extract(app): Extract<State>,
    session: Result<AnySession, ApiError>,
    ItemId(id): ItemId,
    Form(form): Form<SharePasswordForm>,
) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/{id}/sharing/password").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let password = if form.remove.is_some() { None } else { Some(form.password.as_str()) };
    match app.set_share_password(&caller, id, password).await {
        Ok(()) => Redirect::to(&format!("/documents/{id}/sharing?done={}", if password.is_some() { "password" } else { "unpassword" })).into_response(),
        Err(e) => sharing_failed(&app, csrf, &caller, id, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct ExplainForm {
    csrf: String,
    #[serde(default)]
    login: String,
}

/// "Explain" reads only, so its answer is the page itself.
pub(super) async fn explain(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, ItemId(id): ItemId, Form(form): Form<ExplainForm>) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/{id}/sharing/explain").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let login: String = form.login.trim().chars().take(320).collect();
    let who = Some(login.as_str()).filter(|l| !l.is_empty());
    match app.explain(&caller, id, who).await {
        Ok(x) => {
            let extra = SharingExtra { explain_login: login.clone(), explanation: Some(explain_view(&x)), ..SharingExtra::default() };
            render_sharing(&app, csrf, &caller, id, extra).await
        }
        Err(e) => {
            let extra = SharingExtra { explain_login: login.clone(), error: Some(failure(&e)), ..SharingExtra::default() };
            refused(render_sharing(&app, csrf, &caller, id, extra).await, e)
        }
    }
}
