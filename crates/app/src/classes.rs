//! User classes: feature switches (web, mail, IM, documents, helpdesk) and quotas.

use deskward_core::ObjectName;
use deskward_core::authz::Actor;
use deskward_core::class::{Features, check_quota};
use deskward_store::ClassRow;

use crate::domains::administered;
use serde_json::json;

use crate::{App, AppError, Caller};

#[derive(Debug, Clone)]
pub struct NewClass {
    pub name: String,
    pub features: Features,
    pub quota_storage_bytes: Option<i64>,
    pub quota_documents: Option<i64>,
}

/// For quotas, `Some(None)` removes the limit.
#[derive(Debug, Clone, Default)]
pub struct ClassChange {
    pub features: Option<Features>,
    pub quota_storage_bytes: Option<Option<i64>>,
    pub quota_documents: Option<Option<i64>>,
}

fn check_quotas(storage: Option<i64>, documents: Option<i64>) -> Result<(), AppError> {
    check_quota("quota_storage_bytes", "bytes", storage)?;
    check_quota("quota_documents", "documents", documents)?;
    Ok(())
}

impl App {
    pub async fn create_class(&self, caller: &Caller, domain: &str, new: &NewClass) -> Result<ClassRow, AppError> {
        let actor = &caller.actor;
        let name = ObjectName::parse("user class name", &new.name)?;
        check_quotas(new.quota_storage_bytes, new.quota_documents)?;
        let mut tx = self.store.begin().await?;
        let domain = administered(tx.conn(), actor, domain).await?;
        let mut row = ClassRow {
            id: 0,
            domain_id: domain.id,
            name: name.to_string(),
            features: new.features,
            quota_storage_bytes: new.quota_storage_bytes,
            quota_documents: new.quota_documents,
        };
        row.id = ClassRow::insert(&mut tx, &row).await?;
        tx.commit(self.entry(caller, &domain.name, "class.create", format!("class:{name}"), class_summary(&row))).await?;
        Ok(row)
    }

    pub async fn list_classes(&self, caller: &Caller, domain: &str) -> Result<Vec<ClassRow>, AppError> {
        let actor = &caller.actor;
        let mut c = self.store.conn().await?;
        let domain = administered(&mut c, actor, domain).await?;
        Ok(ClassRow::list(&mut c, domain.id).await?)
    }

    pub async fn update_class(&self, caller: &Caller, domain: &str, name: &str, change: &ClassChange) -> Result<ClassRow, AppError> {
        let actor = &caller.actor;
        let mut tx = self.store.begin().await?;
        let (domain, mut row) = find(&mut tx, actor, domain, name).await?;
        let before = class_summary(&row);
        if let Some(f) = change.features {
            row.features = f;
        }
        if let Some(q) = change.quota_storage_bytes {
            row.quota_storage_bytes = q;
        }
        if let Some(q) = change.quota_documents {
            row.quota_documents = q;
        }
        check_quotas(row.quota_storage_bytes, row.quota_documents)?;
        ClassRow::update(&mut tx, &row).await?;
        let summary = json!({ "before": before, "after": class_summary(&row) });
        tx.commit(self.entry(caller, &domain, "class.update", format!("class:{}", row.name), summary)).await?;
        self.auth_cache.clear();
        Ok(row)
    }

    /// Removes a class; its members keep their accounts and lose the class.
    pub async fn remove_class(&self, caller: &Caller, domain: &str, name: &str) -> Result<(), AppError> {
        let actor = &caller.actor;
        let mut tx = self.store.begin().await?;
        let (domain, row) = find(&mut tx, actor, domain, name).await?;
        ClassRow::delete(&mut tx, row.id).await?;
        tx.commit(self.entry(caller, &domain, "class.remove", format!("class:{}", row.name), class_summary(&row))).await?;
        self.auth_cache.clear();
        Ok(())
    }
}

async fn find(tx: &mut deskward_store::Tx, actor: &Actor, domain: &str, name: &str) -> Result<(String, ClassRow), AppError> {
    let name = ObjectName::parse("user class name", name)?;
    let domain = administered(tx.conn(), actor, domain).await?;
    let row = ClassRow::find(tx.conn(), domain.id, name.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("user class {name}")))?;
    Ok((domain.name, row))
}

fn class_summary(row: &ClassRow) -> serde_json::Value {
    let f = row.features;
    json!({
        "features": { "web": f.web, "mail": f.mail, "im": f.im, "documents": f.documents, "helpdesk": f.helpdesk },
        "quota_storage_bytes": row.quota_storage_bytes,
        "quota_documents": row.quota_documents,
    })
}
