//! Password policies per domain and audience (users, staff).

use deskward_core::authz::Actor;
use deskward_core::password::{Audience, Policy, policy::MAX_LENGTH};
use deskward_store::policies;

use crate::domains::administered;
use crate::{App, AppError};

fn audience(s: &str) -> Result<Audience, AppError> {
    Audience::parse(s).ok_or_else(|| AppError::Invalid(format!("unknown audience {s:?}; expected users or staff")))
}

impl App {
    pub async fn get_policy(&self, actor: &Actor, domain: &str, who: &str) -> Result<Policy, AppError> {
        let who = audience(who)?;
        let mut c = self.store.conn().await?;
        let domain = administered(&mut c, actor, domain).await?;
        Ok(policies::get(&mut c, domain.id, who).await?)
    }

    pub async fn set_policy(&self, actor: &Actor, domain: &str, who: &str, policy: &Policy) -> Result<(), AppError> {
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
        policies::set(&mut tx, domain.id, who, policy).await?;
        tx.commit().await?;
        Ok(())
    }
}
