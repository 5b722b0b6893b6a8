//! Password policies per domain and audience (users, staff).

use deskward_core::password::{Audience, Policy, policy::MAX_LENGTH};
use deskward_store::policies;

use crate::domains::administered;
use serde_json::json;

use crate::{App, AppError, Caller};

fn audience(s: &str) -> Result<Audience, AppError> {
    Audience::parse(s).ok_or_else(|| AppError::Invalid(format!("unknown audience {s:?}; expected users or staff")))
}

impl App {
    pub async fn get_policy(&self, caller: &Caller, domain: &str, who: &str) -> Result<Policy, AppError> {
        let actor = &caller.actor;
        let who = audience(who)?;
        let mut c = self.store.conn().await?;
        let domain = administered(&mut c, actor, domain).await?;
        Ok(policies::get(&mut c, domain.id, who).await?)
    }

    pub async fn set_policy(&self, caller: &Caller, domain: &str, who: &str, policy: &Policy) -> Result<(), AppError> {
        let actor = &caller.actor;
        let who = audience(who)?;
        if policy.min_length as usize > MAX_LENGTH || policy.min_non_letters as usize > MAX_LENGTH {
            return Err(AppError::Invalid(format!("min_length and min_non_letters must be at most {MAX_LENGTH}")));
        }
        if policy.history > 100 {
            return Err(AppError::Invalid("history must be at most 100".into()));
        }
        if policy.max_age_days == Some(0) {
            return Err(AppError::Invalid("max_age_days must be at least 1, or null for no expiry".into()));
        }
        let mut tx = self.store.begin().await?;
        let domain = administered(tx.conn(), actor, domain).await?;
        let before = policies::get(tx.conn(), domain.id, who).await?;
        policies::set(&mut tx, domain.id, who, policy).await?;
        let summary = json!({ "before": policy_summary(&before), "after": policy_summary(policy) });
        tx.commit(self.entry(caller, &domain.name, "policy.set", format!("policy:{}", who.as_str()), summary)).await?;
        Ok(())
    }
}

fn policy_summary(p: &Policy) -> serde_json::Value {
    json!({
        "min_length": p.min_length,
        "min_non_letters": p.min_non_letters,
        "require_lowercase": p.require_lowercase,
        "require_uppercase": p.require_uppercase,
        "require_digit": p.require_digit,
        "require_symbol": p.require_symbol,
        "reject_common": p.reject_common,
        "max_age_days": p.max_age_days,
        "history": p.history,
    })
}
