//! `/documents`: folders and documents on pages (the caller's top level and what others share
//! with them; a folder or a document; its sharing settings), and `/s/{token}`: what a share
//! link opens without a login. The use cases of `/api/v1/items` and `/api/v1/shared` decide
//! everything; a page shows only the forms the caller's rights allow, and the use case refuses
//! the rest anyway.
//!
//! Uploads are `multipart/form-data` read as a stream: the `csrf` part comes first and is
//! checked before any byte of the file is read, then the file flows into the document store
//! without being held in memory. `documents.max_size` and the quotas bound it, not
//! `http.max_body_bytes`; an idle timeout, not the request deadline, bounds its time.
//!
//! A share link's token is in the address of its pages by nature, but never in a redirect or
//! an audit record's target; a new link is shown once, on the page that answers the form that
//! made it.

use askama::Template;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, FromRequestParts, Multipart, Path, Query, State as Extract};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller, Explanation, GrantInput, ItemDetail, ItemView, UsageView};
use deskward_core::acl::Rights;
use deskward_store::items::ItemKind;
use futures_util::TryStreamExt;
use serde::Deserialize;
use tokio_util::io::StreamReader;

use super::{forged, html, message, pre_login_csrf, pre_login_csrf_ok, refused, same, usable, with_csrf_cookie};
use crate::api::items::send;
use crate::extract::{AnySession, Client};
use crate::{ApiError, State, convert};

/// Longest document name a form may send (names are at most 255 bytes; longer is refused by
/// the use case, this only bounds what is read).
const MAX_NAME_PART: usize = 1024;

/// Longest CSRF part read; a token is far shorter.
const MAX_CSRF_PART: usize = 128;

/// An item as a listing shows it.
struct Row {
    id: i64,
    folder: bool,
    name: String,
    size: String,
    owner: String,
    rights: String,
    updated_at: String,
}

fn row(item: &deskward_store::ItemRow, rights: Rights) -> Row {
    let folder = item.kind == ItemKind::Folder;
    Row {
        id: item.id,
        folder,
        name: item.name.clone(),
        size: if folder { String::new() } else { size(item.size) },
        owner: item.owner.clone().unwrap_or_else(|| "(removed account)".to_owned()),
        rights: rights_text(rights),
        updated_at: convert::time(item.updated_at),
    }
}

fn rows(views: &[ItemView]) -> Vec<Row> {
    views.iter().map(|v| row(&v.item, v.rights)).collect()
}

fn rights_text(r: Rights) -> String {
    if r.is_empty() { "none".to_owned() } else { r.names().join(", ") }
}

/// A byte count for people: bytes below 1 KB, else one decimal in powers of 1024.
fn size(bytes: i64) -> String {
    if bytes < 1024 {
        return if bytes == 1 { "1 byte".to_owned() } else { format!("{bytes} bytes") };
    }
    let mut value = bytes as f64 / 1024.0;
    for unit in ["KB", "MB", "GB", "TB"] {
        if value < 1024.0 {
            return format!("{value:.1} {unit}");
        }
        value /= 1024.0;
    }
    format!("{value:.1} PB")
}

/// What the caller's documents use, against their quotas.
fn usage_text(u: &UsageView) -> String {
    let bytes = match u.quota_bytes {
        Some(q) => format!("{} of {}", size(u.bytes), size(q)),
        None => format!("{} (no storage quota)", size(u.bytes)),
    };
    let documents = match u.quota_documents {
        Some(q) => format!("{} of {q} documents", u.documents),
        None => format!("{} documents (no document quota)", u.documents),
    };
    format!("{bytes}; {documents}")
}

/// The item in a folder path: (id, name).
type Crumb = (i64, String);

struct VersionLine {
    number: i64,
    size: String,
    author: String,
    created_at: String,
    sha256: String,
}

fn version_lines(d: &ItemDetail) -> Vec<VersionLine> {
    d.versions
        .iter()
        .map(|v| VersionLine {
            number: v.number,
            size: size(v.size),
            author: v.author.clone().unwrap_or_else(|| "(removed account)".to_owned()),
            created_at: convert::time(v.created_at),
            sha256: v.sha256.clone(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "documents.html")]
struct ListPage {
    csrf: String,
    usage: String,
    own: Vec<Row>,
    shared: Vec<Row>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "document.html")]
struct ItemPage {
    csrf: String,
    item: Row,
    parent: i64,
    path: Vec<Crumb>,
    children: Vec<Row>,
    versions: Vec<VersionLine>,
    may_write: bool,
    may_delete: bool,
    notice: Option<String>,
    error: Option<String>,
}

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

#[derive(Template)]
#[template(path = "document_error.html")]
struct ErrorPage {
    message: String,
}

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

/// The id in `/documents/{id}/…`; anything but a number answers the not-found page.
pub(super) struct ItemId(i64);

impl<S: Send + Sync> FromRequestParts<S> for ItemId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<i64>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(ItemId(id)),
            Err(_) => Err(html(&ErrorPage { message: "No such folder or document.".into() }, StatusCode::NOT_FOUND)),
        }
    }
}

/// A failure that leaves nothing to show but its message.
fn error_page(e: AppError) -> Response {
    let status = crate::error::status_and_code(&e).0;
    refused(html(&ErrorPage { message: message(&e) }, status), e)
}

#[derive(Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

/// The notice a redirect after a change asks for; unknown values show nothing.
fn notice(q: Result<Query<Done>, QueryRejection>) -> Option<String> {
    let done = q.ok()?.0.done?;
    Some(
        match done.as_str() {
            "folder" => "The folder was made.",
            "uploaded" => "The document was stored.",
            "version" => "The new version was stored.",
            "renamed" => "The name was changed.",
            "moved" => "The item was moved.",
            "deleted" => "The item was deleted.",
            "granted" => "The grant was saved.",
            "ungranted" => "The grant was removed.",
            "inherit" => "Inheritance was changed.",
            "unlinked" => "The share link was removed; it opens nothing any more.",
            "password" => "The share password was set.",
            "unpassword" => "The share password was removed.",
            _ => return None,
        }
        .to_owned(),
    )
}

/// Where a page goes after an item changed: the folder's page, or the top level for 0.
fn folder_url(id: i64, done: &str) -> String {
    if id == 0 { format!("/documents?done={done}") } else { format!("/documents/{id}?done={done}") }
}

/// The caller of a page, or the redirect to give instead.
fn viewer(session: Result<AnySession, ApiError>) -> Result<(String, Caller), Redirect> {
    usable(session).map(|(auth, caller)| (auth.csrf_token(), caller)).map_err(Redirect::to)
}

/// The caller of a form whose CSRF token matches, or the answer to give instead.
async fn poster(app: &State, session: Result<AnySession, ApiError>, sent: &str, form: &str) -> Result<(String, Caller), Response> {
    let (csrf, caller) = viewer(session).map_err(IntoResponse::into_response)?;
    if !same(&csrf, sent) {
        return Err(forged(app, &caller, form).await);
    }
    Ok((csrf, caller))
}

fn failure(e: &AppError) -> (StatusCode, String) {
    (crate::error::status_and_code(e).0, message(e))
}

// The top level.

pub(super) async fn list(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, q: Result<Query<Done>, QueryRejection>) -> Response {
    match viewer(session) {
        Ok((csrf, caller)) => render_list(&app, csrf, &caller, notice(q), None).await,
        Err(to) => to.into_response(),
    }
}

async fn render_list(app: &State, csrf: String, caller: &Caller, notice: Option<String>, error: Option<(StatusCode, String)>) -> Response {
    let listing = match app.list_items(caller).await {
        Ok(l) => l,
        Err(e) => return error_page(e),
    };
    let usage = match app.document_usage(caller, None).await {
        Ok(u) => usage_text(&u),
        Err(e) => return error_page(e),
    };
    let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
    let page = ListPage { csrf, usage, own: rows(&listing.own), shared: rows(&listing.shared), notice, error };
    html(&page, status)
}

#[derive(Deserialize)]
pub(super) struct NameForm {
    csrf: String,
    name: String,
}

pub(super) async fn new_top_folder(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Form(form): Form<NameForm>) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/folders").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.create_folder(&caller, None, &form.name).await {
        Ok(_) => Redirect::to(&folder_url(0, "folder")).into_response(),
        Err(e) => refused(render_list(&app, csrf, &caller, None, Some(failure(&e))).await, e),
    }
}

pub(super) async fn new_folder(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, ItemId(id): ItemId, Form(form): Form<NameForm>) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/{id}/folders").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.create_folder(&caller, Some(id), &form.name).await {
        Ok(_) => Redirect::to(&folder_url(id, "folder")).into_response(),
        Err(e) => failed(&app, csrf, &caller, id, e).await,
    }
}

// Uploads.

/// A text part, refused past `max` bytes.
async fn text_part(mut field: Field<'_>, max: usize) -> Result<String, AppError> {
    let mut value = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        if value.len() + chunk.len() > max {
            return Err(AppError::Invalid(format!("a form field is longer than {max} bytes")));
        }
        value.extend_from_slice(&chunk);
    }
    String::from_utf8(value).map_err(|_| AppError::Invalid("a form field is not UTF-8 text".into()))
}

fn malformed(e: axum::extract::multipart::MultipartError) -> AppError {
    AppError::Invalid(format!("the form could not be read ({}); nothing was stored", e.body_text()))
}

/// The CSRF token, when it is the form's first part.
async fn csrf_part(form: &mut Multipart) -> Option<String> {
    let field = form.next_field().await.ok()??;
    if field.name() != Some("csrf") {
        return None;
    }
    text_part(field, MAX_CSRF_PART).await.ok()
}

/// Checks the session and the form's CSRF part before anything else of the body is read.
async fn upload_caller(
    app: &State,
    session: Result<AnySession, ApiError>,
    form: Result<Multipart, MultipartRejection>,
    path: &str,
) -> Result<(String, Caller, Multipart), Response> {
    let (csrf, caller) = viewer(session).map_err(IntoResponse::into_response)?;
    let Ok(mut form) = form else {
        return Err(forged(app, &caller, path).await);
    };
    if !csrf_part(&mut form).await.is_some_and(|sent| same(&csrf, &sent)) {
        return Err(forged(app, &caller, path).await);
    }
    Ok((csrf, caller, form))
}

/// Streams the form's `file` part into a new document in `parent`, named after the `name` part
/// when one comes before it, else after the file's own name.
async fn store_document(app: &State, caller: &Caller, parent: Option<i64>, form: &mut Multipart) -> Result<(), AppError> {
    let mut name: Option<String> = None;
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        match field.name() {
            Some("name") => name = Some(text_part(field, MAX_NAME_PART).await?.trim().to_owned()).filter(|n| !n.is_empty()),
            Some("file") => {
                let Some(own) = field.file_name().map(str::to_owned).filter(|f| !f.is_empty()) else {
                    return Err(AppError::Invalid("choose a file to upload".into()));
                };
                let name = name.take().unwrap_or(own);
                let body = StreamReader::new(field.map_err(std::io::Error::other));
                return app.upload_document(caller, parent, &name, body, None).await.map(|_| ());
            }
            _ => {}
        }
    }
    Err(AppError::Invalid("the form holds no file; choose one to upload".into()))
}

/// Streams the form's `file` part into a new version of document `id`.
async fn store_version(app: &State, caller: &Caller, id: i64, form: &mut Multipart) -> Result<(), AppError> {
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        if field.name() == Some("file") {
            if field.file_name().is_some_and(str::is_empty) {
                return Err(AppError::Invalid("choose a file to upload".into()));
            }
            let body = StreamReader::new(field.map_err(std::io::Error::other));
            return app.upload_version(caller, id, body, None).await.map(|_| ());
        }
    }
    Err(AppError::Invalid("the form holds no file; choose one to upload".into()))
}

pub(super) async fn upload_top(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, form: Result<Multipart, MultipartRejection>) -> Response {
    let (csrf, caller, mut form) = match upload_caller(&app, session, form, "/documents/upload").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match store_document(&app, &caller, None, &mut form).await {
        Ok(()) => Redirect::to(&folder_url(0, "uploaded")).into_response(),
        Err(e) => refused(render_list(&app, csrf, &caller, None, Some(failure(&e))).await, e),
    }
}

pub(super) async fn upload_into(
    Extract(app): Extract<State>,
    session: Result<AnySession, ApiError>,
    ItemId(id): ItemId,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let (csrf, caller, mut form) = match upload_caller(&app, session, form, "/documents/{id}/upload").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match store_document(&app, &caller, Some(id), &mut form).await {
        Ok(()) => Redirect::to(&folder_url(id, "uploaded")).into_response(),
        Err(e) => failed(&app, csrf, &caller, id, e).await,
    }
}

pub(super) async fn new_version(
    Extract(app): Extract<State>,
    session: Result<AnySession, ApiError>,
    ItemId(id): ItemId,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let (csrf, caller, mut form) = match upload_caller(&app, session, form, "/documents/{id}/version").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match store_version(&app, &caller, id, &mut form).await {
        Ok(()) => Redirect::to(&format!("/documents/{id}?done=version")).into_response(),
        Err(e) => failed(&app, csrf, &caller, id, e).await,
    }
}

// A folder or a document.

pub(super) async fn page(
    Extract(app): Extract<State>,
    session: Result<AnySession, ApiError>,
    ItemId(id): ItemId,
    q: Result<Query<Done>, QueryRejection>,
) -> Response {
    match viewer(session) {
        Ok((csrf, caller)) => render_item(&app, csrf, &caller, id, notice(q), None).await,
        Err(to) => to.into_response(),
    }
}

async fn render_item(app: &State, csrf: String, caller: &Caller, id: i64, notice: Option<String>, error: Option<(StatusCode, String)>) -> Response {
    let d = match app.item(caller, id).await {
        Ok(d) => d,
        Err(e) => return error_page(e),
    };
    let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
    let page = ItemPage {
        csrf,
        item: row(&d.item, d.rights),
        parent: d.item.parent_id,
        path: d.path.clone(),
        children: rows(&d.children),
        versions: version_lines(&d),
        may_write: d.rights.contains(Rights::WRITE),
        may_delete: d.rights.contains(Rights::DELETE),
        notice,
        error,
    };
    html(&page, status)
}

/// The item's page with the error of a refused form.
async fn failed(app: &State, csrf: String, caller: &Caller, id: i64, e: AppError) -> Response {
    refused(render_item(app, csrf, caller, id, None, Some(failure(&e))).await, e)
}

pub(super) async fn rename(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, ItemId(id): ItemId, Form(form): Form<NameForm>) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/{id}/rename").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.update_item(&caller, id, Some(&form.name), None).await {
        Ok(_) => Redirect::to(&format!("/documents/{id}?done=renamed")).into_response(),
        Err(e) => failed(&app, csrf, &caller, id, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct MoveForm {
    csrf: String,
    /// The destination folder's id; 0 for the owner's top level.
    parent: String,
}

pub(super) async fn move_item(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, ItemId(id): ItemId, Form(form): Form<MoveForm>) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/{id}/move").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(parent) = form.parent.trim().parse::<i64>() else {
        let e = AppError::Invalid(format!("the destination is a folder's number (0 for the top level), not {:?}", form.parent));
        return failed(&app, csrf, &caller, id, e).await;
    };
    match app.update_item(&caller, id, None, Some(parent)).await {
        Ok(_) => Redirect::to(&format!("/documents/{id}?done=moved")).into_response(),
        Err(e) => failed(&app, csrf, &caller, id, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

pub(super) async fn delete(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, ItemId(id): ItemId, Form(form): Form<CsrfForm>) -> Response {
    let (csrf, caller) = match poster(&app, session, &form.csrf, "/documents/{id}/delete").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    // Where to go afterwards: the folder it was in, when the caller may read that.
    let back = match app.item(&caller, id).await {
        Ok(d) if d.path.last().is_some_and(|(above, _)| *above == d.item.parent_id) => d.item.parent_id,
        Ok(_) => 0,
        Err(e) => return error_page(e),
    };
    match app.delete_item(&caller, id).await {
        Ok(()) => Redirect::to(&folder_url(back, "deleted")).into_response(),
        Err(e) => failed(&app, csrf, &caller, id, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct VersionQuery {
    version: Option<i64>,
}

pub(super) async fn download(
    Extract(app): Extract<State>,
    session: Result<AnySession, ApiError>,
    ItemId(id): ItemId,
    q: Result<Query<VersionQuery>, QueryRejection>,
) -> Response {
    let (_, caller) = match viewer(session) {
        Ok(c) => c,
        Err(to) => return to.into_response(),
    };
    let Ok(Query(q)) = q else {
        return error_page(AppError::Invalid("the version is a number".into()));
    };
    match app.download(&caller, id, q.version).await {
        Ok(content) => send(content),
        Err(e) => error_page(e),
    }
}

// Sharing.

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
async fn current_grants(app: &State, caller: &Caller, id: i64) -> Result<(bool, Vec<GrantInput>), AppError> {
    let acl = app.item_acl(caller, id).await?;
    let grants = acl.grants.iter().map(|g| GrantInput { to: g.to.clone(), rights: g.rights.names().into_iter().map(str::to_owned).collect() }).collect();
    Ok((acl.inherit, grants))
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
        let (_, mut grants) = current_grants(&app, &caller, id).await?;
        match grants.iter_mut().find(|g| g.to == to) {
            Some(g) => g.rights = rights,
            None => grants.push(GrantInput { to, rights }),
        }
        app.set_item_acl(&caller, id, None, &grants).await
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
        let (_, mut grants) = current_grants(&app, &caller, id).await?;
        let before = grants.len();
        grants.retain(|g| g.to != form.to);
        if grants.len() == before {
            return Err(AppError::NotFound(format!("a grant to {:?}", form.to)));
        }
        app.set_item_acl(&caller, id, None, &grants).await
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
        let (_, grants) = current_grants(&app, &caller, id).await?;
        app.set_item_acl(&caller, id, Some(inherit), &grants).await
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

// Share links, without a login.

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

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size(0), "0 bytes");
        assert_eq!(size(1), "1 byte");
        assert_eq!(size(1023), "1023 bytes");
        assert_eq!(size(1536), "1.5 KB");
        assert_eq!(size(5 * 1024 * 1024), "5.0 MB");
    }
}
