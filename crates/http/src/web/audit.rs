//! `/admin/audit`: administrators search the audit log and browse it by domain, year, month
//! and day. The use cases decide what each may read: a domain administrator sees only their
//! domain, and asking for another is refused and recorded like in the API. Read-only pages:
//! every form is a GET, so no CSRF token is needed.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller};
use deskward_core::audit::{Record, timestamp};
use deskward_store::audit::Filter;
use serde::Deserialize;

use super::{html, refused, usable};
use crate::api::audit::parse_time;
use crate::extract::AnySession;
use crate::{ApiError, State};

/// Most records one search shows.
const LIMIT: usize = 200;

/// The search form as sent; empty fields mean "any".
#[derive(Debug, Default, Deserialize)]
pub(super) struct SearchForm {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    ip: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    text: String,
    security: Option<String>,
}

/// The form's values, shown back.
struct Fields {
    domain: String,
    user: String,
    action: String,
    ip: String,
    since: String,
    until: String,
    text: String,
    security: bool,
}

struct RecordLine {
    time: String,
    chain: String,
    seq: i64,
    security: bool,
    action: String,
    actor: String,
    /// The host name and address, or the address alone.
    from: String,
    target: String,
    summary: String,
    /// A logged instant message, as "to …" and its text, shown as text rather than JSON.
    message: Option<(String, String)>,
}

struct DayLink {
    day: String,
    label: String,
    records: i64,
}

struct Month {
    month: String,
    days: Vec<DayLink>,
}

struct Year {
    year: String,
    months: Vec<Month>,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    heading: String,
    chains: Vec<String>,
    search: Option<Fields>,
    chain: String,
    years: Vec<Year>,
    records: Option<Vec<RecordLine>>,
    limit: usize,
    error: Option<String>,
}

impl AuditPage {
    fn new(heading: String) -> AuditPage {
        AuditPage { heading, chains: Vec::new(), search: None, chain: String::new(), years: Vec::new(), records: None, limit: LIMIT, error: None }
    }
}

fn line(r: &Record) -> RecordLine {
    RecordLine {
        time: timestamp(r.at),
        chain: r.chain.clone(),
        seq: r.seq,
        security: r.security,
        action: r.action.clone(),
        // The administrator acting for the actor, when there was one.
        actor: if r.acting.is_empty() { r.actor.clone() } else { format!("{} (administrator {} acting)", r.actor, r.acting) },
        from: if r.source_host.is_empty() { r.source_ip.clone() } else { format!("{} ({})", r.source_host, r.source_ip) },
        target: r.target.clone(),
        summary: r.summary.clone(),
        message: message(r),
    }
}

/// The recipients and text of a logged message (`im.message`).
fn message(r: &Record) -> Option<(String, String)> {
    if r.action != "im.message" {
        return None;
    }
    let summary: serde_json::Value = serde_json::from_str(&r.summary).ok()?;
    let to: Vec<&str> = summary["to"].as_array()?.iter().filter_map(serde_json::Value::as_str).collect();
    // Line breaks and tabs stay; other control characters are shown as replacement marks.
    let mut text: String = summary["text"].as_str()?.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { '\u{FFFD}' } else { c }).collect();
    if let Some(n) = summary["cut_from_bytes"].as_u64() {
        text.push_str(&format!(" […cut; {n} bytes in all]"));
    }
    Some((format!("to {}", to.join(", ")), text))
}

/// The page with `e` shown; a refusal for lack of rights is recorded as a security event.
fn failed(mut page: AuditPage, e: AppError) -> Response {
    let status = crate::error::status_and_code(&e).0;
    page.error = Some(super::message(&e));
    refused(html(&page, status), e)
}

/// The chains `caller` may read, for the links at the top.
async fn chains(app: &State, caller: &Caller) -> Result<Vec<String>, AppError> {
    Ok(app.audit_chains(caller).await?.into_iter().map(|h| h.chain).collect())
}

pub(super) async fn search(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, q: Result<Query<SearchForm>, QueryRejection>) -> Response {
    let caller = match usable(session) {
        Ok((_, c)) => c,
        Err(to) => return Redirect::to(to).into_response(),
    };
    let mut page = AuditPage::new("Audit log".into());
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return failed(page, AppError::Invalid(e.body_text())),
    };
    page.search = Some(Fields {
        domain: q.domain.clone(),
        user: q.user.clone(),
        action: q.action.clone(),
        ip: q.ip.clone(),
        since: q.since.clone(),
        until: q.until.clone(),
        text: q.text.clone(),
        security: q.security.is_some(),
    });
    page.chains = match chains(&app, &caller).await {
        Ok(c) => c,
        Err(e) => return failed(page, e),
    };
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let now = app.now();
    let time = |s: &str| some(s).map(|t| parse_time(&t, now)).transpose();
    let filter = match (time(&q.since), time(&q.until)) {
        (Ok(since), Ok(until)) => Filter {
            chain: some(&q.domain),
            user: some(&q.user),
            action: some(&q.action),
            source_ip: some(&q.ip),
            target: None,
            since,
            until,
            security_only: q.security.is_some(),
            text: some(&q.text),
            limit: LIMIT as i64,
        },
        (Err(e), _) | (_, Err(e)) => return failed(page, e),
    };
    match app.audit_search(&caller, filter).await {
        Ok(records) => {
            page.records = Some(records.iter().map(line).collect());
            html(&page, StatusCode::OK)
        }
        Err(e) => failed(page, e),
    }
}

pub(super) async fn days(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(chain): Path<String>) -> Response {
    let caller = match usable(session) {
        Ok((_, c)) => c,
        Err(to) => return Redirect::to(to).into_response(),
    };
    let mut page = AuditPage::new(format!("Audit log of {chain}"));
    let days = match app.audit_days(&caller, &chain).await {
        Ok(d) => d,
        Err(e) => return failed(page, e),
    };
    page.chains = chains(&app, &caller).await.unwrap_or_default();
    // Days come oldest first; the page shows the newest year and month first.
    for (day, records) in days.into_iter().rev() {
        if day.len() != 10 || !day.is_ascii() {
            continue;
        }
        let (year, month, label) = (day[..4].to_owned(), day[5..7].to_owned(), day[8..].to_owned());
        if page.years.last().is_none_or(|y| y.year != year) {
            page.years.push(Year { year: year.clone(), months: Vec::new() });
        }
        let Some(y) = page.years.last_mut() else { continue };
        if y.months.last().is_none_or(|m| m.month != month) {
            y.months.push(Month { month, days: Vec::new() });
        }
        if let Some(m) = y.months.last_mut() {
            m.days.push(DayLink { day, label, records });
        }
    }
    page.chain = chain;
    if page.years.is_empty() {
        page.error = Some("No records.".into());
    }
    html(&page, StatusCode::OK)
}

pub(super) async fn day(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path((chain, day)): Path<(String, String)>) -> Response {
    let caller = match usable(session) {
        Ok((_, c)) => c,
        Err(to) => return Redirect::to(to).into_response(),
    };
    let mut page = AuditPage::new(format!("Audit log of {chain}, {day}"));
    match app.audit_day(&caller, &chain, &day).await {
        Ok(records) => {
            page.chains = chains(&app, &caller).await.unwrap_or_default();
            page.records = Some(records.iter().map(line).collect());
            page.limit = usize::MAX;
            html(&page, StatusCode::OK)
        }
        Err(e) => failed(page, e),
    }
}
