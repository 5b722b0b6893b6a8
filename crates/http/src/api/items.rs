//! `/items`: folders and documents; `/shared/{token}`: what a share link opens without a
//! login. Content streams both ways: an upload is read from the body as it arrives, a
//! download is sent from the file as the client reads it.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State as Extract};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use deskward_app::Content;
use deskward_proto::documents::{CreateFolder, Explanation, Item, ItemDetail, Link, Listing, SetAcl, SharePassword, Stored, UpdateItem, Usage};
use futures_util::TryStreamExt;
use serde::Deserialize;
use tokio_util::io::{ReaderStream, StreamReader};

use crate::extract::{ApiJson, Client, Session};
use crate::{ApiError, State, convert};

/// The header a share link's password travels in.
pub const SHARE_PASSWORD_HEADER: &str = "x-deskward-share-password";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    name: String,
    #[serde(default)]
    parent: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    #[serde(default)]
    version: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainQuery {
    #[serde(default)]
    account: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedQuery {
    #[serde(default)]
    item: Option<i64>,
    #[serde(default)]
    version: Option<i64>,
}

/// The request body as a reader, and its announced length.
fn body_reader(headers: &HeaderMap, body: Body) -> (impl tokio::io::AsyncRead + Unpin, Option<u64>) {
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    (StreamReader::new(stream), length)
}

fn parent(p: Option<i64>) -> Option<i64> {
    p.filter(|p| *p != 0)
}

pub async fn list(Extract(app): Extract<State>, Session(caller): Session) -> Result<Json<Listing>, ApiError> {
    let l = app.list_items(&caller).await?;
    Ok(Json(Listing {
        items: l.own.iter().map(|v| convert::item(&v.item, v.rights)).collect(),
        shared: l.shared.iter().map(|v| convert::item(&v.item, v.rights)).collect(),
    }))
}

pub async fn domain_items(Extract(app): Extract<State>, Session(caller): Session, Path(domain): Path<String>) -> Result<Json<Vec<Item>>, ApiError> {
    let rows = app.domain_items(&caller, &domain).await?;
    Ok(Json(rows.iter().map(|v| convert::item(&v.item, v.rights)).collect()))
}

pub async fn create_folder(
    Extract(app): Extract<State>,
    Session(caller): Session,
    ApiJson(req): ApiJson<CreateFolder>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    let row = app.create_folder(&caller, parent(req.parent), &req.name).await?;
    Ok((StatusCode::CREATED, Json(convert::item(&row, deskward_core::acl::Rights::ALL))))
}

pub async fn upload(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Query(q): Query<NewDocument>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Stored>), ApiError> {
    let (reader, length) = body_reader(&headers, body);
    let (row, version) = app.upload_document(&caller, parent(q.parent), &q.name, reader, length).await?;
    Ok((StatusCode::CREATED, Json(Stored { item: convert::item(&row, deskward_core::acl::Rights::ALL), version })))
}

pub async fn show(Extract(app): Extract<State>, Session(caller): Session, Path(id): Path<i64>) -> Result<Json<ItemDetail>, ApiError> {
    Ok(Json(convert::item_detail(&app.item(&caller, id).await?)))
}

pub async fn update(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<UpdateItem>,
) -> Result<Json<Item>, ApiError> {
    let row = app.update_item(&caller, id, req.name.as_deref(), req.parent).await?;
    Ok(Json(convert::item(&row, app.rights_on(&caller, id).await?)))
}

pub async fn remove(Extract(app): Extract<State>, Session(caller): Session, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    app.delete_item(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn download(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(id): Path<i64>,
    Query(q): Query<VersionQuery>,
) -> Result<Response, ApiError> {
    Ok(send(app.download(&caller, id, q.version).await?))
}

pub async fn new_version(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Stored>, ApiError> {
    let (reader, length) = body_reader(&headers, body);
    let (row, version) = app.upload_version(&caller, id, reader, length).await?;
    Ok(Json(Stored { item: convert::item(&row, app.rights_on(&caller, id).await?), version }))
}

/// The grants with their version as the `ETag`, for a conditional `PUT` (`If-Match`).
fn with_version(acl: &deskward_app::AclView) -> Response {
    let mut r = Json(convert::acl(acl)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", acl.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

pub async fn acl(Extract(app): Extract<State>, Session(caller): Session, Path(id): Path<i64>) -> Result<Response, ApiError> {
    Ok(with_version(&app.item_acl(&caller, id).await?))
}

/// Replaces the grants; with `If-Match`, only if they are still the version it names.
pub async fn set_acl(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(id): Path<i64>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SetAcl>,
) -> Result<Response, ApiError> {
    let grants: Vec<deskward_app::GrantInput> =
        req.grants.into_iter().map(|g| deskward_app::GrantInput { to: g.to, rights: g.rights }).collect();
    let if_match = headers.get(header::IF_MATCH).map(|v| String::from_utf8_lossy(v.as_bytes()).trim().trim_matches('"').to_owned());
    Ok(with_version(&app.set_item_acl(&caller, id, req.inherit, &grants, if_match.as_deref()).await?))
}

pub async fn make_link(Extract(app): Extract<State>, Session(caller): Session, Path(id): Path<i64>) -> Result<(StatusCode, Json<Link>), ApiError> {
    let token = app.make_link(&caller, id).await?;
    let url = format!("{}/s/{token}", app.notify.public_url);
    Ok((StatusCode::CREATED, Json(Link { token, url })))
}

pub async fn remove_link(Extract(app): Extract<State>, Session(caller): Session, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    app.remove_link(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_share_password(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<SharePassword>,
) -> Result<StatusCode, ApiError> {
    app.set_share_password(&caller, id, Some(&req.password)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_share_password(Extract(app): Extract<State>, Session(caller): Session, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    app.set_share_password(&caller, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn explain(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path(id): Path<i64>,
    Query(q): Query<ExplainQuery>,
) -> Result<Json<Explanation>, ApiError> {
    Ok(Json(convert::explanation(&app.explain(&caller, id, q.account.as_deref()).await?)))
}

pub async fn my_usage(Extract(app): Extract<State>, Session(caller): Session) -> Result<Json<Usage>, ApiError> {
    Ok(Json(convert::usage(&app.document_usage(&caller, None).await?)))
}

pub async fn account_usage(
    Extract(app): Extract<State>,
    Session(caller): Session,
    Path((domain, name)): Path<(String, String)>,
) -> Result<Json<Usage>, ApiError> {
    let login = format!("{name}@{domain}");
    Ok(Json(convert::usage(&app.document_usage(&caller, Some(&login)).await?)))
}

fn share_password(headers: &HeaderMap) -> Option<String> {
    headers.get(SHARE_PASSWORD_HEADER).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

pub async fn shared(
    Extract(app): Extract<State>,
    Client(source): Client,
    Path(token): Path<String>,
    Query(q): Query<SharedQuery>,
    headers: HeaderMap,
) -> Result<Json<ItemDetail>, ApiError> {
    let caller = deskward_app::Caller::anonymous(source);
    let password = share_password(&headers);
    Ok(Json(convert::item_detail(&app.shared_item(&caller, &token, password.as_deref(), q.item).await?)))
}

pub async fn shared_content(
    Extract(app): Extract<State>,
    Client(source): Client,
    Path(token): Path<String>,
    Query(q): Query<SharedQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = deskward_app::Caller::anonymous(source);
    let password = share_password(&headers);
    Ok(send(app.shared_content(&caller, &token, password.as_deref(), q.item, q.version).await?))
}

/// A download: always an attachment of an opaque type, so a stored page can never run in
/// this origin, named in the RFC 6266 way.
pub fn send(c: Content) -> Response {
    let stream = ReaderStream::with_capacity(c.file, 64 * 1024);
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(c.version.size));
    if let Ok(v) = HeaderValue::from_str(&disposition(&c.item.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", c.version.sha256)) {
        h.insert(header::ETAG, v);
    }
    response
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded`.
pub fn disposition(name: &str) -> String {
    let ascii: String = name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn download_names_cannot_break_the_header() {
        assert_eq!(disposition("a b.txt"), "attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt");
        assert_eq!(disposition("x\".html"), "attachment; filename=\"x_.html\"; filename*=UTF-8''x%22.html");
        assert_eq!(disposition("報告.pdf"), "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A.pdf");
    }
}
