//! The outbox's use cases: the delivery worker claims due messages and reports each attempt
//! (a delivery or a giving up is audited; a retry is not a change), administrators read the
//! queue and send a test message.

use deskward_core::audit::{SYSTEM_CHAIN, clean_field};
use deskward_core::EmailAddress;
use deskward_store::{Housekeeping, NewMail, OutboxRow};
use serde_json::json;

use crate::{App, AppError, Caller};

/// Longest wait between two attempts of one message.
const MAX_RETRY_DELAY: i64 = 3600;
/// Most messages one listing returns.
pub const MAX_LISTED: i64 = 500;

/// Why an attempt failed.
#[derive(Debug, Clone)]
pub struct SendFailure {
    /// The relay refused for good (a 5xx answer): retrying cannot help.
    pub permanent: bool,
    /// What the relay or the connection said; never holds a credential.
    pub message: String,
}

/// How the delivery worker retries (`mail.retry_delay`, `mail.max_attempts`).
#[derive(Debug, Clone, Copy)]
pub struct RetryRules {
    pub first_delay: i64,
    pub max_attempts: i64,
}

impl RetryRules {
    /// Wait after the `attempts`-th failed attempt: the first delay, doubled each time.
    pub fn delay(&self, attempts: i64) -> i64 {
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        self.first_delay.max(1).saturating_mul(1_i64 << doublings).min(MAX_RETRY_DELAY)
    }
}

impl App {
    /// Claims up to `limit` due messages for `lease` seconds, so no other worker sends them
    /// meanwhile; a worker that dies leaves them due again when the lease ends.
    pub async fn claim_due_mail(&self, limit: i64, lease: i64) -> Result<Vec<OutboxRow>, AppError> {
        let now = self.now();
        let mut c = self.store.conn().await?;
        let due = OutboxRow::due(&mut c, now, limit).await?;
        drop(c);
        let mut claimed = Vec::with_capacity(due.len());
        for row in due {
            let mut tx = self.store.begin().await?;
            let mine = OutboxRow::claim(&mut tx, &row, now + lease).await?;
            tx.commit_unaudited(Housekeeping::MailAttempt).await?;
            if mine {
                claimed.push(row);
            }
        }
        Ok(claimed)
    }

    /// Records an attempt to send `row`: delivered (audited `mail.sent`), given up (audited
    /// `mail.failed`, after `max_attempts` or a permanent refusal), or due again later.
    pub async fn mail_attempted(&self, mailer: &Caller, row: &OutboxRow, outcome: Result<(), SendFailure>, retry: RetryRules) -> Result<(), AppError> {
        let now = self.now();
        let attempts = row.attempts + 1;
        let target = format!("mail:{}", row.recipient);
        let mut tx = self.store.begin().await?;
        match outcome {
            Ok(()) => {
                OutboxRow::attempted(&mut tx, row.id, "sent", None, now, now).await?;
                let summary = json!({ "id": row.id, "kind": row.kind, "subject": row.subject, "attempts": attempts });
                tx.commit(self.entry(mailer, &row.chain, "mail.sent", target, summary)).await?;
            }
            Err(f) if f.permanent || attempts >= retry.max_attempts => {
                let error = clean_field(&f.message);
                OutboxRow::attempted(&mut tx, row.id, "failed", Some(&error), now, now).await?;
                let summary = json!({ "id": row.id, "kind": row.kind, "subject": row.subject, "attempts": attempts, "error": error });
                tx.commit(self.entry(mailer, &row.chain, "mail.failed", target, summary)).await?;
                tracing::warn!(id = row.id, attempts, error = %error, "gave up a message");
            }
            Err(f) => {
                let error = clean_field(&f.message);
                let next = now + retry.delay(attempts);
                OutboxRow::attempted(&mut tx, row.id, "queued", Some(&error), next, now).await?;
                tx.commit_unaudited(Housekeeping::MailAttempt).await?;
                tracing::warn!(id = row.id, attempts, retry_in = next - now, error = %error, "a message could not be delivered; it will be retried");
            }
        }
        Ok(())
    }

    /// Puts claimed messages back for `delay` seconds without an attempt: the relay could not
    /// even be tried, because of `reason` (the relay password cannot be read).
    pub async fn mail_postponed(&self, rows: &[OutboxRow], reason: &str, delay: i64) -> Result<(), AppError> {
        let next = self.now() + delay.max(1);
        let reason = clean_field(reason);
        let mut tx = self.store.begin().await?;
        for row in rows {
            OutboxRow::postpone(&mut tx, row.id, &reason, next).await?;
        }
        tx.commit_unaudited(Housekeeping::MailAttempt).await?;
        Ok(())
    }

    /// The newest messages, without bodies (a body may hold a verification link): all for
    /// system administrators, their domain's for a domain administrator.
    pub async fn outbox(&self, caller: &Caller, domain: Option<&str>, limit: i64) -> Result<Vec<OutboxRow>, AppError> {
        let limit = limit.clamp(1, MAX_LISTED);
        let mut c = self.store.conn().await?;
        let chain = match domain {
            Some(d) => Some(crate::domains::administered(&mut c, &caller.actor, d).await?.name),
            None => {
                caller.actor.may_manage_domains("see every domain's mail")?;
                None
            }
        };
        Ok(OutboxRow::recent(&mut c, chain.as_deref(), limit).await?)
    }

    /// Queues a test message to `to`: how an administrator checks the relay settings.
    pub async fn queue_test_mail(&self, caller: &Caller, to: &str) -> Result<i64, AppError> {
        caller.actor.may_manage_domains("send test mail")?;
        if !self.notify.mail {
            return Err(AppError::Invalid("no mail relay is configured (mail.relay)".into()));
        }
        let to = EmailAddress::parse(to)?;
        let body = format!(
            "This is a test message from Deskward, queued by {}.\nIf you read it, the relay settings work.\n",
            clean_field(&caller.name)
        );
        let mail = NewMail { chain: SYSTEM_CHAIN, kind: "test", recipient: to.as_str(), subject: "Deskward test message", body: &body };
        let mut tx = self.store.begin().await?;
        let id = OutboxRow::queue(&mut tx, &mail, self.now()).await?;
        tx.commit(self.entry(caller, SYSTEM_CHAIN, "mail.test", format!("mail:{}", to.as_str()), json!({ "id": id }))).await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_an_hour() {
        let r = RetryRules { first_delay: 60, max_attempts: 10 };
        assert_eq!([1, 2, 3, 4].map(|a| r.delay(a)), [60, 120, 240, 480]);
        assert_eq!(r.delay(7), 3600);
        assert_eq!(r.delay(1000), 3600);
        assert_eq!(RetryRules { first_delay: 0, max_attempts: 1 }.delay(1), 1);
    }
}
