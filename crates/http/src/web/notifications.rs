//! `/admin/domains/{domain}/notifications`: which roles of a domain are mailed on each login and
//! on failed logins, set by the domain or left to the server's `[notify]` settings. Through the
//! same use cases as the API; saved only when it changed.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller, RoleNotifications};
use deskward_core::DomainName;
use deskward_store::NotificationRow;
use serde::Deserialize;

use super::{canonical, failure, html, posted, refused, usable};
use crate::extract::AnySession;
use crate::{ApiError, State};

#[derive(Template)]
#[template(path = "admin_notifications.html")]
struct NotificationsPage {
    csrf: String,
    domain: String,
    roles: Vec<RoleLine>,
    notice: Option<String>,
    error: Option<String>,
}

struct RoleLine {
    role: String,
    own: bool,
    login_success: bool,
    login_failure: bool,
}

#[derive(Deserialize)]
pub(super) struct Notice {
    saved: Option<String>,
}

pub(super) async fn page(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, q: Result<Query<Notice>, QueryRejection>) -> Response {
    let (auth, caller) = match usable(session) {
        Ok(s) => s,
        Err(to) => return Redirect::to(to).into_response(),
    };
    let notice = q.ok().and_then(|Query(n)| n.saved).map(|_| "The login mails are saved.".to_owned());
    render(&app, &auth.csrf_token(), &caller, &domain, notice, None).await
}

async fn render(app: &State, csrf: &str, caller: &Caller, domain: &str, notice: Option<String>, error: Option<(StatusCode, String)>) -> Response {
    match app.notification_rules(caller, domain).await {
        Ok(rules) => {
            let roles = rules.iter().map(|r| RoleLine { role: r.role.to_string(), own: r.own, login_success: r.login_success, login_failure: r.login_failure }).collect();
            let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
            html(&NotificationsPage { csrf: csrf.to_owned(), domain: domain.to_owned(), roles, notice, error }, status)
        }
        Err(e) => {
            let (status, error) = failure(&e);
            let page = NotificationsPage { csrf: String::new(), domain: domain.to_owned(), roles: Vec::new(), notice: None, error: Some(error) };
            refused(html(&page, status), e)
        }
    }
}

/// `{role}` is `server` or `own`; `{role}_success` and `{role}_failure` are ticked boxes. The
/// roles are read from the page's own list, so other fields are ignored.
pub(super) async fn save(
    Extract(app): Extract<State>,
    session: Result<AnySession, ApiError>,
    Path(domain): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (auth, caller) = match posted(&app, session, field("csrf").unwrap_or_default(), "/admin/domains/{domain}/notifications").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let result = async {
        let current = app.notification_rules(&caller, &domain).await?;
        let wanted: Vec<NotificationRow> = current
            .iter()
            .filter(|r| field(&r.role.to_string()) == Some("own"))
            .map(|r| {
                let role = r.role.to_string();
                NotificationRow { role: r.role, login_success: field(&format!("{role}_success")).is_some(), login_failure: field(&format!("{role}_failure")).is_some() }
            })
            .collect();
        if wanted != own_rows(&current) {
            app.set_notification_rules(&caller, &domain, &wanted).await?;
        }
        Ok::<_, AppError>(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/admin/domains/{domain}/notifications?saved=1")).into_response(),
        Err(e) => refused(render(&app, &auth.csrf_token(), &caller, &domain, None, Some(failure(&e))).await, e),
    }
}

/// The domain's own switches, as the use case takes them.
fn own_rows(rules: &[RoleNotifications]) -> Vec<NotificationRow> {
    rules.iter().filter(|r| r.own).map(|r| NotificationRow { role: r.role, login_success: r.login_success, login_failure: r.login_failure }).collect()
}
