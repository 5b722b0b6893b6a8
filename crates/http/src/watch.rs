//! Security events the HTTP layer sees: a request whose path, query or JSON body looks like an
//! attack, a refused cross-site request, and every answer that denies access. Each is handled
//! as usual; the event says what was seen, where, and who asked.

use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State as Extract};
use axum::middleware::Next;
use axum::response::Response;
use deskward_app::Caller;
use deskward_core::audit::{SYSTEM_CHAIN, clean_field};
use deskward_core::hostile;
use serde_json::{Value, json};

use crate::State;
use crate::client::ClientAddr;
use crate::extract::source_of;

/// Filled by the session extractor, so events raised after it name the caller.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(Arc<OnceLock<Caller>>);

impl CallerSlot {
    pub fn set(&self, caller: Caller) {
        let _ = self.0.set(caller);
    }

    pub fn get(&self) -> Option<Caller> {
        self.0.get().cloned()
    }
}

/// Put on an answer that refused access; the event names the action and the reason.
#[derive(Debug, Clone)]
pub struct Denied {
    pub action: &'static str,
    pub reason: String,
}

/// Longest excerpt of a suspicious value kept in its event.
const EXCERPT: usize = 120;

pub async fn watch(Extract(app): Extract<State>, mut req: Request, next: Next) -> Response {
    let slot = CallerSlot::default();
    req.extensions_mut().insert(slot.clone());
    let source = source_of(req.extensions(), req.headers());
    let what = format!("{} {}", req.method(), shown_path(req.uri().path()));
    let uri = req.uri().clone();
    if req.extensions().get::<ClientAddr>().is_some_and(|c| c.forged_forwarding) {
        let summary = json!({ "reason": "forwarding headers from a peer that is not a trusted proxy; the peer's address is used" });
        app.security_event(&Caller::anonymous(source.clone()), SYSTEM_CHAIN, "request.forwarding_ignored", what.clone(), summary).await;
    }
    for (place, text) in [("path", Some(uri.path())), ("query", uri.query())] {
        if let Some(text) = text
            && let Some(pattern) = hostile::scan(text)
        {
            suspicious(&app, &Caller::anonymous(source.clone()), place, pattern, text).await;
            break;
        }
    }
    let response = next.run(req).await;
    if let Some(denied) = response.extensions().get::<Denied>() {
        let caller = slot.get().unwrap_or_else(|| Caller::anonymous(source));
        let summary = json!({ "reason": denied.reason });
        app.security_event(&caller, &caller.chain(), denied.action, what, summary).await;
    }
    response
}

/// A path as events and logs name it: the token of a share link (`/s/{token}`,
/// `/api/v1/shared/{token}`) opens what it shares, so it is replaced by `{token}`.
pub fn shown_path(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in ["/s/", "/api/v1/shared/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let (token, tail) = rest.split_once('/').map_or((rest, None), |(t, tail)| (t, Some(tail)));
            if deskward_app::is_token(token) {
                return match tail {
                    Some(tail) => format!("{prefix}{{token}}/{tail}").into(),
                    None => format!("{prefix}{{token}}").into(),
                };
            }
        }
    }
    path.into()
}

/// Records a request that carried an attack pattern.
pub async fn suspicious(app: &State, caller: &Caller, place: &str, pattern: &str, text: &str) {
    let excerpt: String = text.chars().take(EXCERPT).collect();
    let summary = json!({ "where": place, "pattern": pattern, "excerpt": clean_field(&excerpt) });
    app.security_event(caller, &caller.chain(), "request.suspicious", format!("request {place}"), summary).await;
}

/// The first string in a JSON body (a value or a key) that carries an attack pattern: its
/// field path, the pattern and the text. Secret fields are never inspected, so no password
/// reaches a log.
pub fn scan_json(value: &Value) -> Option<(String, &'static str, String)> {
    fn walk(v: &Value, path: &mut String, depth: usize) -> Option<(String, &'static str, String)> {
        if depth > 32 {
            return None;
        }
        match v {
            Value::String(s) => hostile::scan(s).map(|p| (path.clone(), p, s.clone())),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let hit = walk(item, path, depth + 1);
                path.truncate(len);
                hit
            }),
            Value::Object(map) => map.iter().find_map(|(k, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                let hit = if let Some(p) = hostile::scan(k) {
                    Some((path.clone(), p, k.clone()))
                } else if is_secret(k) {
                    None
                } else {
                    walk(item, path, depth + 1)
                };
                path.truncate(len);
                hit
            }),
            _ => None,
        }
    }
    let mut path = String::new();
    walk(value, &mut path, 0).map(|(p, pattern, text)| (if p.is_empty() { "(root)".into() } else { clean_field(&p) }, pattern, text))
}

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "hash"].iter().any(|s| key.contains(s))
}

#[cfg(test)]
mod tests {
    use super::scan_json;
    use serde_json::json;

    #[test]
    fn share_link_tokens_are_not_named() {
        let token = "abcdefghijABCDEFGHIJ0123456789-_abcdefghijk";
        assert_eq!(token.len(), 43);
        assert_eq!(super::shown_path(&format!("/s/{token}")), "/s/{token}");
        assert_eq!(super::shown_path(&format!("/s/{token}/download")), "/s/{token}/download");
        assert_eq!(super::shown_path(&format!("/api/v1/shared/{token}/content")), "/api/v1/shared/{token}/content");
        assert_eq!(super::shown_path("/s/not-a-token"), "/s/not-a-token");
        assert_eq!(super::shown_path("/documents/12"), "/documents/12");
    }

    #[test]
    fn fields_are_named_and_secrets_skipped() {
        let body = json!({ "name": "ok", "members": ["a", "<script>x</script>"] });
        let (field, pattern, _) = scan_json(&body).unwrap();
        assert_eq!((field.as_str(), pattern), ("members[1]", "xss:script-tag"));
        let body = json!({ "login": "a@b.c", "password": "' OR 1=1 --", "new_password": "<script>" });
        assert_eq!(scan_json(&body), None);
        assert_eq!(scan_json(&json!({ "x": { "y": "1 union select 2" } })).unwrap().0, "x.y");
    }
}
