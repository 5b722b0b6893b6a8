//! `/admin/domains/{domain}/policies`: a domain's password policies, one for users and one for
//! staff (agents and administrators), for its administrators, through the same use cases as
//! the API. Only a changed policy is saved, so saving the same values records nothing.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller};
use deskward_core::DomainName;
use deskward_core::password::{Audience, Policy};
use serde::Deserialize;

use super::{canonical, failure, html, posted, refused, usable};
use crate::extract::AnySession;
use crate::{ApiError, State};

struct PolicyForm {
    who: &'static str,
    title: &'static str,
    policy: Policy,
}

#[derive(Template)]
#[template(path = "admin_policies.html")]
struct PoliciesPage {
    csrf: String,
    domain: String,
    policies: Vec<PolicyForm>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Notice {
    saved: Option<String>,
}

const AUDIENCES: [(Audience, &str); 2] = [(Audience::Users, "Users"), (Audience::Staff, "Staff: agents and administrators")];

pub(super) async fn page(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, q: Result<Query<Notice>, QueryRejection>) -> Response {
    let (auth, caller) = match usable(session) {
        Ok(s) => s,
        Err(to) => return Redirect::to(to).into_response(),
    };
    let saved = q.ok().and_then(|Query(n)| n.saved).and_then(|s| Audience::parse(&s));
    render(&app, &auth.csrf_token(), &caller, &domain, saved, None).await
}

async fn render(app: &State, csrf: &str, caller: &Caller, domain: &str, saved: Option<Audience>, error: Option<(StatusCode, String)>) -> Response {
    let mut policies = Vec::new();
    for (who, title) in AUDIENCES {
        match app.get_policy(caller, domain, who.as_str()).await {
            Ok(policy) => policies.push(PolicyForm { who: who.as_str(), title, policy }),
            Err(e) => {
                let (status, error) = failure(&e);
                let page = PoliciesPage { csrf: String::new(), domain: domain.to_owned(), policies: Vec::new(), notice: None, error: Some(error) };
                return refused(html(&page, status), e);
            }
        }
    }
    let notice = saved.map(|who| format!("The password policy for {} is saved.", who.as_str()));
    let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
    html(&PoliciesPage { csrf: csrf.to_owned(), domain: domain.to_owned(), policies, notice, error }, status)
}

/// The posted form. Numbers arrive as text and are read after the CSRF check, so a forged or
/// malformed post is answered as such rather than as a form that cannot be read.
#[derive(Deserialize)]
pub(super) struct SaveForm {
    csrf: String,
    #[serde(default)]
    min_length: String,
    #[serde(default)]
    min_non_letters: String,
    require_lowercase: Option<String>,
    require_uppercase: Option<String>,
    require_digit: Option<String>,
    require_symbol: Option<String>,
    reject_common: Option<String>,
    /// Days; empty means passwords do not expire.
    #[serde(default)]
    max_age_days: String,
    #[serde(default)]
    history: String,
}

fn number(field: &str, text: &str) -> Result<u32, AppError> {
    text.trim().parse().map_err(|_| AppError::Invalid(format!("{field} must be a whole number")))
}

impl SaveForm {
    fn policy(&self) -> Result<Policy, AppError> {
        Ok(Policy {
            min_length: number("the minimum length", &self.min_length)?,
            min_non_letters: number("the number of non-letters", &self.min_non_letters)?,
            require_lowercase: self.require_lowercase.is_some(),
            require_uppercase: self.require_uppercase.is_some(),
            require_digit: self.require_digit.is_some(),
            require_symbol: self.require_symbol.is_some(),
            reject_common: self.reject_common.is_some(),
            max_age_days: match self.max_age_days.trim() {
                "" => None,
                days => Some(number("the maximum age", days)?),
            },
            history: number("the number of remembered passwords", &self.history)?,
        })
    }
}

pub(super) async fn save(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path((domain, who)): Path<(String, String)>, Form(form): Form<SaveForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/policies/{who}").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let result = async {
        let policy = form.policy()?;
        if app.get_policy(&caller, &domain, &who).await? != policy {
            app.set_policy(&caller, &domain, &who, &policy).await?;
        }
        Ok::<_, AppError>(())
    }
    .await;
    match (result, Audience::parse(&who)) {
        (Ok(()), Some(who)) => Redirect::to(&format!("/admin/domains/{domain}/policies?saved={}", who.as_str())).into_response(),
        (Ok(()), None) => Redirect::to(&format!("/admin/domains/{domain}/policies")).into_response(),
        (Err(e), _) => refused(render(&app, &auth.csrf_token(), &caller, &domain, None, Some(failure(&e))).await, e),
    }
}
