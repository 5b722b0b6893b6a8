//! Response hardening and cross-site request refusal, applied to every route.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::body;

const SECURITY_HEADERS: [(HeaderName, &str); 6] = [
    (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    // Pages load only this server's stylesheet and post forms only back to it; no script at all.
    (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    // Same-origin, not no-referrer: under no-referrer browsers send `Origin: null` on the
    // pages' own form posts, which the cross-site check must refuse.
    (header::REFERRER_POLICY, "same-origin"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CACHE_CONTROL, "no-store"),
];

/// Refuses state-changing requests that a browser marks as coming from another site, then adds
/// the security headers to whatever the handler answered.
pub async fn guard_and_secure(req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let fetch_site = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let cross_site = fetch_site.as_deref() == Some("cross-site");
    // HTTP/2 carries the host in the URI authority rather than a Host header.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    // A browser that says the request is same-origin is believed; otherwise the Origin must be ours.
    let foreign_origin = match req.headers().get(header::ORIGIN).filter(|_| fetch_site.as_deref() != Some("same-origin")) {
        Some(origin) => {
            let origin = origin.to_str().unwrap_or("");
            host.is_none() || origin.strip_prefix("https://") != host.as_deref()
        }
        None => false,
    };
    let mut response = if unsafe_method && (cross_site || foreign_origin) {
        tracing::warn!(path = %crate::watch::shown_path(req.uri().path()), "refused a cross-site state-changing request");
        let mut refused =
            body(StatusCode::FORBIDDEN, "cross_site_request", "cross-site requests may not change anything".into(), Vec::new());
        let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("-");
        refused.extensions_mut().insert(crate::watch::Denied {
            action: "request.cross_site",
            reason: format!("state-changing request from another site (origin {origin})"),
        });
        refused
    } else {
        next.run(req).await
    };
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Requests whose body is document content: the API's, and the pages' upload forms.
fn is_upload(req: &Request) -> bool {
    let path = req.uri().path();
    match *req.method() {
        axum::http::Method::POST => {
            path == "/api/v1/items/documents"
                || path == "/documents/upload"
                || path.strip_prefix("/documents/").is_some_and(|rest| {
                    rest.strip_suffix("/upload").or_else(|| rest.strip_suffix("/version")).is_some_and(|id| !id.is_empty() && !id.contains('/'))
                })
        }
        axum::http::Method::PUT => path.starts_with("/api/v1/items/") && path.ends_with("/content"),
        _ => false,
    }
}

/// Bounds the time a request may take, so a stuck dependency cannot pile up requests.
pub async fn deadline(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    req: Request,
    next: Next,
) -> Response {
    // Uploads take as long as their size needs; an idle timeout bounds them instead
    // (`documents.upload_idle_timeout`).
    if is_upload(&req) {
        return next.run(req).await;
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let mut r = body(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long".into(), Vec::new());
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
    }
}
