//! `/admin/bans`: the bans in force (the guard's and administrators'), banning an address or a
//! range by hand, and lifting a ban; system administrators only, as in the API. A ban holds for
//! every domain.

use askama::Template;
use axum::extract::{Form, Query, State as Extract};
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller};
use deskward_proto::Ban;
use serde::Deserialize;

use super::{failure, html, message, posted, refused, usable};
use crate::extract::AnySession;
use crate::{ApiError, State, convert};

#[derive(Template)]
#[template(path = "admin_bans.html")]
struct BansPage {
    csrf: String,
    bans: Vec<Ban>,
    /// What the form had, shown again when it was refused.
    network: String,
    hours: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Notice {
    done: Option<String>,
    network: Option<String>,
}

pub(super) async fn page(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, q: Result<Query<Notice>, QueryRejection>) -> Response {
    let (auth, caller) = match usable(session) {
        Ok(s) => s,
        Err(to) => return Redirect::to(to).into_response(),
    };
    // Only a network the list itself printed is echoed: the notice cannot carry other text.
    let notice = q.ok().and_then(|Query(n)| {
        let network: deskward_core::net::Network = n.network?.parse().ok()?;
        match n.done?.as_str() {
            "banned" => Some(format!("{network} is banned.")),
            "lifted" => Some(format!("The ban of {network} is lifted.")),
            _ => None,
        }
    });
    render(&app, &auth.csrf_token(), &caller, BanForm::default(), notice, None).await
}

/// The page, with a notice or the error of a refused form.
async fn render(app: &State, csrf: &str, caller: &Caller, form: BanForm, notice: Option<String>, error: Option<(StatusCode, String)>) -> Response {
    match app.bans(caller).await {
        Ok(rows) => {
            let (code, error) = error.map_or((StatusCode::OK, None), |(c, e)| (c, Some(e)));
            let bans = rows.iter().map(convert::ban).collect();
            html(&BansPage { csrf: csrf.to_owned(), bans, network: form.network, hours: form.hours, notice, error }, code)
        }
        Err(e) => {
            let page = BansPage { csrf: String::new(), bans: Vec::new(), network: String::new(), hours: String::new(), notice: None, error: Some(message(&e)) };
            refused(html(&page, crate::error::status_and_code(&e).0), e)
        }
    }
}

#[derive(Deserialize, Default)]
pub(super) struct BanForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    network: String,
    /// Empty: the guard's longest ban. Text, so that a forged post is answered as forged.
    #[serde(default)]
    hours: String,
}

pub(super) async fn ban(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Form(form): Form<BanForm>) -> Response {
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/bans").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let seconds = match form.hours.trim() {
        "" => None,
        h => match h.parse::<f64>() {
            // Whole seconds; the use case checks the range.
            Ok(h) if h.is_finite() && h > 0.0 && h <= 1e9 => Some((h * 3600.0).round() as i64),
            _ => {
                let e = AppError::Invalid(format!("give the ban's length in hours, not {h:?}"));
                return failed(&app, &auth.csrf_token(), &caller, form, e).await;
            }
        },
    };
    match app.ban(&caller, &form.network, seconds).await {
        Ok(row) => done("banned", &row.network),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, form, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct LiftForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    network: String,
}

pub(super) async fn lift(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Form(form): Form<LiftForm>) -> Response {
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/bans/lift").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    match app.unban(&caller, &form.network).await {
        // It parsed, or the ban could not have been lifted: the notice names it as printed.
        Ok(()) => done("lifted", &form.network.trim().parse::<deskward_core::net::Network>().map(|n| n.to_string()).unwrap_or_default()),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, BanForm::default(), e).await,
    }
}

/// `network` as `core::net` prints it: digits, dots, colons, a slash, which a query string
/// carries as they are.
fn done(what: &str, network: &str) -> Response {
    Redirect::to(&format!("/admin/bans?done={what}&network={network}")).into_response()
}

async fn failed(app: &State, csrf: &str, caller: &Caller, form: BanForm, e: AppError) -> Response {
    refused(render(app, csrf, caller, form, None, Some(failure(&e))).await, e)
}
