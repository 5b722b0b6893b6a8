//! `/documents`: the caller's top level (with what others share with them), uploads, a folder's
//! or a document's page, rename, move, delete and download; and the helpers the sharing page
//! (`web/sharing.rs`) and share links (`web/shared_links.rs`) use too. The use cases of
//! `/api/v1/items` decide everything; a page shows only the forms the caller's rights allow.

use askama::Template;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, FromRequestParts, Multipart, Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller, ItemDetail, ItemView, UsageView};
use deskward_core::acl::Rights;
use deskward_store::items::ItemKind;
use futures_util::TryStreamExt;
use serde::Deserialize;
use tokio_util::io::StreamReader;

use super::{failure, forged, html, message, refused, same, usable};
use crate::api::items::send;
use crate::extract::AnySession;
use crate::{ApiError, State, convert};

/// Longest document name a form may send (names are at most 255 bytes; longer is refused by
/// the use case, this only bounds what is read).
const MAX_NAME_PART: usize = 1024;

/// Longest CSRF part read; a token is far shorter.
const MAX_CSRF_PART: usize = 128;

/// An item as a listing shows it.
pub(super) struct Row {
    pub(super) id: i64,
    pub(super) folder: bool,
    pub(super) name: String,
    pub(super) size: String,
    owner: String,
    pub(super) rights: String,
    pub(super) updated_at: String,
}

pub(super) fn row(item: &deskward_store::ItemRow, rights: Rights) -> Row {
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

pub(super) fn rows(views: &[ItemView]) -> Vec<Row> {
    views.iter().map(|v| row(&v.item, v.rights)).collect()
}

pub(super) fn rights_text(r: Rights) -> String {
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
pub(super) type Crumb = (i64, String);

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

#[derive(Template)]
#[template(path = "document_error.html")]
struct ErrorPage {
    message: String,
}

/// The id in `/documents/{id}/…`; anything but a number answers the not-found page.
pub(super) struct ItemId(pub(super) i64);

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
pub(super) fn error_page(e: AppError) -> Response {
    let status = crate::error::status_and_code(&e).0;
    refused(html(&ErrorPage { message: message(&e) }, status), e)
}

#[derive(Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

/// The notice a redirect after a change asks for; unknown values show nothing.
pub(super) fn notice(q: Result<Query<Done>, QueryRejection>) -> Option<String> {
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
pub(super) fn viewer(session: Result<AnySession, ApiError>) -> Result<(String, Caller), Redirect> {
    usable(session).map(|(auth, caller)| (auth.csrf_token(), caller)).map_err(Redirect::to)
}

/// [`posted`](super::posted), with the session's CSRF token as these pages keep it.
pub(super) async fn poster(app: &State, session: Result<AnySession, ApiError>, sent: &str, form: &str) -> Result<(String, Caller), Response> {
    super::posted(app, session, sent, form).await.map(|(auth, caller)| (auth.csrf_token(), caller))
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
//
// Uploads are `multipart/form-data` read as a stream: the `csrf` part comes first and is
// checked before any byte of the file is read, then the file flows into the document store
// without being held in memory. `documents.max_size` and the quotas bound it, not
// `http.max_body_bytes`; an idle timeout, not the request deadline, bounds its time.

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
    pub(super) csrf: String,
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
