//! `/admin/domains/{domain}/sign-in`: a domain's sign-in rules for its administrators: how long
//! its sessions last and whether users may be remembered, and the allow-list of networks its
//! logins may come from without a confirmation by mail. Both go through the same use cases as
//! the API, and each is saved only when it changed.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AllowList, AppError, Caller, SessionRules};
use deskward_core::DomainName;
use deskward_store::SessionRuleRow;
use serde::Deserialize;

use super::{canonical, failure, html, posted, refused, usable};
use crate::extract::AnySession;
use crate::{ApiError, State};

/// A lifetime as the form edits it: whole minutes, empty for the server's setting.
fn minutes(seconds: Option<i64>) -> String {
    seconds.map(|s| (s / 60).to_string()).unwrap_or_default()
}

#[derive(Template)]
#[template(path = "admin_sign_in.html")]
struct SignInPage {
    csrf: String,
    domain: String,
    /// The domain's own lifetimes in minutes (empty: the server's), and the remember-me choice.
    users_idle: String,
    users_absolute: String,
    staff_idle: String,
    staff_absolute: String,
    remember_me: &'static str,
    /// What applies, in minutes.
    effective: SessionRules,
    allow_list: AllowList,
    notice: Option<String>,
    error: Option<String>,
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
    let notice = match q.ok().and_then(|Query(n)| n.saved).as_deref() {
        Some("sessions") => Some("The session rules are saved; they apply to sessions opened from now on.".to_owned()),
        Some("allow-list") => Some("The allow-list is saved.".to_owned()),
        _ => None,
    };
    render(&app, &auth.csrf_token(), &caller, &domain, notice, None).await
}

async fn render(app: &State, csrf: &str, caller: &Caller, domain: &str, notice: Option<String>, error: Option<(StatusCode, String)>) -> Response {
    let read = async { Ok::<_, AppError>((app.session_rules(caller, domain).await?, app.allow_list(caller, domain).await?)) }.await;
    let ((own, effective), allow_list) = match read {
        Ok(r) => r,
        Err(e) => {
            // The page without its forms, saying why.
            let (status, error) = failure(&e);
            let nothing = AllowList { networks: Vec::new(), admins_only: false, trust_seconds: None, effective_trust_seconds: 0 };
            let page = SignInPage {
                csrf: String::new(),
                domain: domain.to_owned(),
                users_idle: String::new(),
                users_absolute: String::new(),
                staff_idle: String::new(),
                staff_absolute: String::new(),
                remember_me: "server",
                effective: SessionRules::default(),
                allow_list: nothing,
                notice: None,
                error: Some(error),
            };
            return refused(html(&page, status), e);
        }
    };
    let remember_me = match own.remember_me {
        None => "server",
        Some(true) => "yes",
        Some(false) => "no",
    };
    let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
    let page = SignInPage {
        csrf: csrf.to_owned(),
        domain: domain.to_owned(),
        users_idle: minutes(own.users_idle),
        users_absolute: minutes(own.users_absolute),
        staff_idle: minutes(own.staff_idle),
        staff_absolute: minutes(own.staff_absolute),
        remember_me,
        effective,
        allow_list,
        notice,
        error,
    };
    html(&page, status)
}

async fn failed(app: &State, csrf: &str, caller: &Caller, domain: &str, e: AppError) -> Response {
    refused(render(app, csrf, caller, domain, None, Some(failure(&e))).await, e)
}

/// The lifetimes form; numbers arrive as text and are read after the CSRF check.
#[derive(Deserialize)]
pub(super) struct SessionsForm {
    csrf: String,
    #[serde(default)]
    users_idle: String,
    #[serde(default)]
    users_absolute: String,
    #[serde(default)]
    staff_idle: String,
    #[serde(default)]
    staff_absolute: String,
    #[serde(default)]
    remember_me: String,
}

/// Whole minutes as seconds; empty keeps the server's setting.
fn seconds(field: &str, text: &str) -> Result<Option<i64>, AppError> {
    match text.trim() {
        "" => Ok(None),
        n => n
            .parse::<i64>()
            .ok()
            .and_then(|m| m.checked_mul(60))
            .map(Some)
            .ok_or_else(|| AppError::Invalid(format!("{field} must be a whole number of minutes, or empty for the server's setting"))),
    }
}

/// Minutes the form showed for `current` keep `current`, so a lifetime set in seconds through
/// the API is not rounded by saving the page unchanged.
fn kept(form: Option<i64>, current: Option<i64>) -> Option<i64> {
    match (form, current) {
        (Some(f), Some(c)) if f / 60 == c / 60 => Some(c),
        _ => form,
    }
}

pub(super) async fn sessions(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<SessionsForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/sign-in/sessions").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let result = async {
        let (own, _) = app.session_rules(&caller, &domain).await?;
        let rules = SessionRuleRow {
            users_idle: kept(seconds("the users' idle timeout", &form.users_idle)?, own.users_idle),
            users_absolute: kept(seconds("the users' session length", &form.users_absolute)?, own.users_absolute),
            staff_idle: kept(seconds("the staff's idle timeout", &form.staff_idle)?, own.staff_idle),
            staff_absolute: kept(seconds("the staff's session length", &form.staff_absolute)?, own.staff_absolute),
            remember_me: match form.remember_me.as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            },
        };
        if rules != own {
            app.set_session_rules(&caller, &domain, &rules).await?;
        }
        Ok::<_, AppError>(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/admin/domains/{domain}/sign-in?saved=sessions")).into_response(),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct AllowListForm {
    csrf: String,
    /// Addresses and CIDR ranges, one a line or separated by commas; empty lifts the list.
    #[serde(default)]
    networks: String,
    admins_only: Option<String>,
    /// Days a confirmed address is trusted; empty for the server's setting.
    #[serde(default)]
    trust_days: String,
}

pub(super) async fn allow_list(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<AllowListForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/sign-in/allow-list").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let result = async {
        let networks: Vec<String> = form.networks.split([',', '\n', '\r']).map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect();
        let current = app.allow_list(&caller, &domain).await?;
        let trust = match form.trust_days.trim() {
            "" => None,
            d => {
                let days = d.parse::<i64>().ok().and_then(|d| d.checked_mul(86_400));
                let days = days.ok_or_else(|| AppError::Invalid("trust confirmed addresses for a whole number of days, or leave it empty for the server's setting".into()))?;
                // The days shown for a trust time set in seconds keep it.
                Some(current.trust_seconds.filter(|c| c / 86_400 == days / 86_400).unwrap_or(days))
            }
        };
        let admins_only = form.admins_only.is_some();
        if networks != current.networks || admins_only != current.admins_only || trust != current.trust_seconds {
            app.set_allow_list(&caller, &domain, &networks, admins_only, trust).await?;
        }
        Ok::<_, AppError>(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/admin/domains/{domain}/sign-in?saved=allow-list")).into_response(),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}
