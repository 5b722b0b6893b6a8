//! Password login. The answer never tells an unknown login from a wrong password; "disabled"
//! is said only after the password was right.

use deskward_core::password::{Audience, Verification};
use deskward_core::{Login, password::policy::MAX_LENGTH};
use deskward_store::{AccountRow, SessionRow, policies};

use crate::{App, AppError, Source};

#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The session token for the cookie; shown once, stored only as a hash.
    pub token: String,
    pub session: SessionRow,
    pub account: AccountRow,
}

impl App {
    pub async fn login(&self, login: &str, password: &str, source: &Source) -> Result<LoginOutcome, AppError> {
        if password.is_empty() || password.chars().count() > MAX_LENGTH {
            return Err(AppError::InvalidCredentials);
        }
        let Ok(login) = Login::parse(login) else { return Err(AppError::InvalidCredentials) };
        let mut c = self.store.conn().await?;
        let account = AccountRow::find(&mut c, login.domain.as_str(), login.name.as_str()).await?;
        let policy = match &account {
            Some(a) => Some(policies::get(&mut c, a.domain_id, Audience::of(a.role)).await?),
            None => None,
        };
        drop(c);
        let Some((account, stored, policy)) =
            account.zip(policy).and_then(|(a, p)| a.password_hash.clone().map(|h| (a, h, p)))
        else {
            self.hasher.verify_dummy(password).await?;
            return Err(AppError::InvalidCredentials);
        };
        let needs_rehash = match self.hasher.verify(password, &stored).await {
            Ok(Verification::Match { needs_rehash }) => needs_rehash,
            Ok(Verification::Mismatch) => return Err(AppError::InvalidCredentials),
            Err(AppError::Internal(detail)) => {
                tracing::warn!(login = %login, %detail, "stored password hash cannot be read");
                return Err(AppError::InvalidCredentials);
            }
            Err(e) => return Err(e),
        };
        if account.domain_disabled {
            return Err(AppError::DomainDisabled);
        }
        if account.disabled {
            return Err(AppError::AccountDisabled);
        }
        let upgraded = if needs_rehash { Some(self.hasher.hash(password).await?) } else { None };
        let now = self.now();
        let expired = policy.is_expired(account.password_changed_at.unwrap_or(account.created_at), now);
        let (token, session) = self.new_session(account.id, source, expired || account.must_change_password);
        let mut tx = self.store.begin().await?;
        if let Some(new_hash) = &upgraded {
            AccountRow::upgrade_hash(&mut tx, account.id, &stored, new_hash).await?;
        }
        SessionRow::insert(&mut tx, &session).await?;
        AccountRow::touch_login(&mut tx, account.id, now).await?;
        tx.commit().await?;
        Ok(LoginOutcome { token, session, account })
    }
}
