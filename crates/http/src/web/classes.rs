//! `/admin/domains/{domain}/classes`: a domain's user classes (feature switches and quotas) for
//! its administrators: create, change and remove them through the same use cases as the API.
//! Only what changed is saved, so saving the same values records nothing.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deskward_app::{AppError, Caller, ClassChange, NewClass};
use deskward_core::class::Features;
use deskward_core::{DomainName, ObjectName};
use deskward_store::ClassRow;
use serde::Deserialize;

use super::{canonical, failure, html, posted, refused, usable};
use crate::extract::AnySession;
use crate::{ApiError, State};

const MIB: i64 = 1024 * 1024;

struct ClassLine {
    name: String,
    features: Features,
    /// Whole MiB, as the form edits it; empty when unlimited.
    storage_mib: String,
    documents: String,
}

#[derive(Template)]
#[template(path = "admin_classes.html")]
struct ClassesPage {
    csrf: String,
    domain: String,
    classes: Vec<ClassLine>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Notice {
    done: Option<String>,
    class: Option<String>,
}

pub(super) async fn page(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, q: Result<Query<Notice>, QueryRejection>) -> Response {
    let (auth, caller) = match usable(session) {
        Ok(s) => s,
        Err(to) => return Redirect::to(to).into_response(),
    };
    let done = q.ok().and_then(|Query(n)| Some((n.done?, n.class?)));
    render(&app, &auth.csrf_token(), &caller, &domain, done, None).await
}

async fn render(app: &State, csrf: &str, caller: &Caller, domain: &str, done: Option<(String, String)>, error: Option<(StatusCode, String)>) -> Response {
    let classes = match app.list_classes(caller, domain).await {
        Ok(c) => c,
        Err(e) => {
            let (status, error) = failure(&e);
            let page = ClassesPage { csrf: String::new(), domain: domain.to_owned(), classes: Vec::new(), notice: None, error: Some(error) };
            return refused(html(&page, status), e);
        }
    };
    let notice = done.and_then(|(done, class)| {
        let known = classes.iter().any(|c| c.name == class);
        match done.as_str() {
            "created" if known => Some(format!("The class {class} is created.")),
            "saved" if known => Some(format!("The class {class} is saved.")),
            "removed" if !known && ObjectName::parse("user class name", &class).is_ok() => Some(format!("The class {class} is removed; its accounts have none now.")),
            _ => None,
        }
    });
    let classes = classes.into_iter().map(line).collect();
    let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
    html(&ClassesPage { csrf: csrf.to_owned(), domain: domain.to_owned(), classes, notice, error }, status)
}

fn line(c: ClassRow) -> ClassLine {
    ClassLine {
        features: c.features,
        storage_mib: c.quota_storage_bytes.map(|b| (b / MIB).to_string()).unwrap_or_default(),
        documents: c.quota_documents.map(|d| d.to_string()).unwrap_or_default(),
        name: c.name,
    }
}

async fn failed(app: &State, csrf: &str, caller: &Caller, domain: &str, e: AppError) -> Response {
    refused(render(app, csrf, caller, domain, None, Some(failure(&e))).await, e)
}

fn done(domain: &str, what: &str, class: &str) -> Response {
    Redirect::to(&format!("/admin/domains/{domain}/classes?done={what}&class={class}")).into_response()
}

/// A class's form. Quotas arrive as text (empty: unlimited) and are read after the CSRF check.
#[derive(Deserialize)]
pub(super) struct ClassForm {
    csrf: String,
    #[serde(default)]
    name: String,
    web: Option<String>,
    mail: Option<String>,
    im: Option<String>,
    documents: Option<String>,
    helpdesk: Option<String>,
    #[serde(default)]
    storage_mib: String,
    #[serde(default)]
    quota_documents: String,
}

impl ClassForm {
    fn features(&self) -> Features {
        Features { web: self.web.is_some(), mail: self.mail.is_some(), im: self.im.is_some(), documents: self.documents.is_some(), helpdesk: self.helpdesk.is_some() }
    }

    /// The storage quota in bytes; a whole number of MiB equal to `current`'s (rounded down)
    /// keeps `current`, so saving a quota set in bytes through the API does not change it.
    fn storage(&self, current: Option<i64>) -> Result<Option<i64>, AppError> {
        let Some(mib) = quota("the storage quota", &self.storage_mib)? else { return Ok(None) };
        if current.is_some_and(|b| b / MIB == mib) {
            return Ok(current);
        }
        mib.checked_mul(MIB).map(Some).ok_or_else(|| AppError::Invalid("the storage quota is too large".into()))
    }
}

fn quota(field: &str, text: &str) -> Result<Option<i64>, AppError> {
    match text.trim() {
        "" => Ok(None),
        n => n.parse::<i64>().map(Some).map_err(|_| AppError::Invalid(format!("{field} must be a whole number, or empty for no limit"))),
    }
}

pub(super) async fn create(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path(domain): Path<String>, Form(form): Form<ClassForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/classes").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let result = async {
        let new = NewClass { name: form.name.clone(), features: form.features(), quota_storage_bytes: form.storage(None)?, quota_documents: quota("the documents quota", &form.quota_documents)? };
        app.create_class(&caller, &domain, &new).await
    }
    .await;
    match result {
        Ok(row) => done(&domain, "created", &row.name),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

pub(super) async fn save(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path((domain, class)): Path<(String, String)>, Form(form): Form<ClassForm>) -> Response {
    let domain = canonical(domain, DomainName::parse);
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/classes/{class}").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let result = async {
        let classes = app.list_classes(&caller, &domain).await?;
        let wanted = ObjectName::parse("user class name", &class)?;
        let row = classes.into_iter().find(|c| c.name == wanted.as_str()).ok_or_else(|| AppError::NotFound(format!("user class {wanted}")))?;
        let (features, storage, documents) = (form.features(), form.storage(row.quota_storage_bytes)?, quota("the documents quota", &form.quota_documents)?);
        let change = ClassChange {
            features: Some(features).filter(|f| *f != row.features),
            quota_storage_bytes: Some(storage).filter(|s| *s != row.quota_storage_bytes),
            quota_documents: Some(documents).filter(|d| *d != row.quota_documents),
        };
        if change.features.is_some() || change.quota_storage_bytes.is_some() || change.quota_documents.is_some() {
            app.update_class(&caller, &domain, &row.name, &change).await?;
        }
        Ok::<_, AppError>(row.name)
    }
    .await;
    match result {
        Ok(name) => done(&domain, "saved", &name),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct RemoveForm {
    csrf: String,
    confirm: Option<String>,
}

pub(super) async fn remove(Extract(app): Extract<State>, session: Result<AnySession, ApiError>, Path((domain, class)): Path<(String, String)>, Form(form): Form<RemoveForm>) -> Response {
    let (domain, class) = (canonical(domain, DomainName::parse), canonical(class, |c| ObjectName::parse("user class name", c)));
    let (auth, caller) = match posted(&app, session, &form.csrf, "/admin/domains/{domain}/classes/{class}/remove").await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    if form.confirm.is_none() {
        let e = AppError::Invalid(format!("tick the box beside Remove to remove the class {class}"));
        return failed(&app, &auth.csrf_token(), &caller, &domain, e).await;
    }
    match app.remove_class(&caller, &domain, &class).await {
        Ok(()) => done(&domain, "removed", &class),
        Err(e) => failed(&app, &auth.csrf_token(), &caller, &domain, e).await,
    }
}
