//! A domain's own session lifetimes and remember-me switch, over the server's `[session]`
//! settings. Domain admins set their domain's; every change is audited with before and after.

use deskward_store::SessionRuleRow;
use serde_json::json;

use crate::domains::administered;
use crate::{App, AppError, Caller, SessionRules};

/// Shortest and longest lifetime a domain may set: a minute, a year.
const BOUNDS: (i64, i64) = (60, 365 * 86_400);

impl App {
    /// The domain's overrides and the rules its new sessions follow.
    pub async fn session_rules(&self, caller: &Caller, domain: &str) -> Result<(SessionRuleRow, SessionRules), AppError> {
        let mut c = self.store.conn().await?;
        let d = administered(&mut c, &caller.actor, domain).await?;
        let overrides = SessionRuleRow::get(&mut c, d.id).await?;
        Ok((overrides, self.sessions.with(&overrides)))
    }

    /// Replaces the domain's overrides (`None` keeps the server's setting). Applies to sessions
    /// opened from now on.
    pub async fn set_session_rules(&self, caller: &Caller, domain: &str, rules: &SessionRuleRow) -> Result<SessionRules, AppError> {
        for (name, v) in [
            ("users_idle", rules.users_idle),
            ("users_absolute", rules.users_absolute),
            ("staff_idle", rules.staff_idle),
            ("staff_absolute", rules.staff_absolute),
        ] {
            if let Some(v) = v
                && !(BOUNDS.0..=BOUNDS.1).contains(&v)
            {
                return Err(AppError::Invalid(format!("{name} must be {} to {} seconds (a minute to a year), or null for the server's setting", BOUNDS.0, BOUNDS.1)));
            }
        }
        let effective = self.sessions.with(rules);
        for (who, life) in [("users", effective.users), ("staff", effective.staff)] {
            if life.idle > life.absolute {
                return Err(AppError::Invalid(format!("{who}: the idle timeout ({} s) would be longer than the absolute one ({} s)", life.idle, life.absolute)));
            }
        }
        let mut tx = self.store.begin().await?;
        let d = administered(tx.conn(), &caller.actor, domain).await?;
        let before = SessionRuleRow::get(tx.conn(), d.id).await?;
        SessionRuleRow::put(&mut tx, d.id, rules).await?;
        let summary = json!({ "before": summary(&before), "after": summary(rules) });
        tx.commit(self.entry(caller, &d.name, "domain.session_rules", format!("domain:{}", d.name), summary)).await?;
        Ok(effective)
    }
}

fn summary(r: &SessionRuleRow) -> serde_json::Value {
    json!({
        "users_idle": r.users_idle,
        "users_absolute": r.users_absolute,
        "staff_idle": r.staff_idle,
        "staff_absolute": r.staff_absolute,
        "remember_me": r.remember_me,
    })
}
