//! Import of accounts with password hashes from another system. Legacy hashes (bcrypt,
//! SHA-crypt) are stored as they are, verified once at the next login and replaced by argon2id.
//! An import is one transaction: a bad record imports nothing.

use deskward_core::password::HashScheme;
use deskward_core::{Login, Role};
use deskward_store::{AccountRow, DomainRow, NewAccount};

use crate::accounts::class_id;
use crate::domains::administered;
use serde_json::json;

use crate::{App, AppError, Caller};

#[derive(Debug, Clone)]
pub struct ImportRecord {
    pub login: String,
    pub role: String,
    pub password_hash: String,
    pub class: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub imported: usize,
    pub by_scheme: Vec<(&'static str, usize)>,
}

impl App {
    pub async fn import_accounts(&self, caller: &Caller, records: &[ImportRecord]) -> Result<ImportSummary, AppError> {
        let actor = &caller.actor;
        let mut tx = self.store.begin().await?;
        let mut summary = ImportSummary::default();
        let mut audit = Vec::with_capacity(records.len());
        let now = self.now();
        for (i, r) in records.iter().enumerate() {
            let at = |e: AppError| AppError::Invalid(format!("record {} ({}): {e}", i + 1, r.login));
            let login = Login::parse(&r.login).map_err(|e| at(e.into()))?;
            let role: Role = r.role.parse().map_err(|e: deskward_core::role::UnknownRole| at(e.into()))?;
            actor.may_touch_role(role).map_err(|e| at(e.into()))?;
            let scheme = HashScheme::of(&r.password_hash).map_err(|e| at(AppError::Invalid(e.to_string())))?;
            let domain: DomainRow = administered(tx.conn(), actor, login.domain.as_str()).await.map_err(at)?;
            let class_id = class_id(tx.conn(), domain.id, r.class.as_deref()).await.map_err(at)?;
            let new = NewAccount {
                domain_id: domain.id,
                name: login.name.as_str(),
                role,
                class_id,
                password_hash: Some(&r.password_hash),
                must_change_password: false,
                directory_dn: None,
                auth_plugin: None,
            };
            AccountRow::insert(&mut tx, &new, now).await.map_err(|e| at(e.into()))?;
            let what = json!({ "role": role.as_str(), "class": r.class, "hash_scheme": scheme.as_str() });
            audit.push(self.entry(caller, &domain.name, "account.import", format!("account:{login}"), what));
            summary.imported += 1;
            match summary.by_scheme.iter_mut().find(|(s, _)| *s == scheme.as_str()) {
                Some((_, n)) => *n += 1,
                None => summary.by_scheme.push((scheme.as_str(), 1)),
            }
        }
        let audit = deskward_store::Audit::many(audit).ok_or_else(|| AppError::Invalid("the import file holds no accounts".into()))?;
        tx.commit(audit).await?;
        Ok(summary)
    }
}
