//! The outbox: mail Deskward sends itself, kept until a delivery worker hands it to the relay.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Result, Tx, new_id};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    /// The audit chain the delivery is recorded in (the recipient's domain, or the system's).
    pub chain: String,
    /// What the message is about, like `login.success` or `ban`.
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
    /// `queued`, `sent` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub done_at: Option<i64>,
}

macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT id, chain, kind, recipient, subject, body, created_at, state, attempts, next_attempt_at, last_error, done_at FROM outbox ",
            $tail
        )
    };
}

fn from_row(row: &AnyRow) -> Result<OutboxRow> {
    Ok(OutboxRow {
        id: row.try_get("id")?,
        chain: row.try_get("chain")?,
        kind: row.try_get("kind")?,
        recipient: row.try_get("recipient")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        done_at: row.try_get("done_at")?,
    })
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMail<'a> {
    pub chain: &'a str,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

impl OutboxRow {
    /// Queues a message, due at once; returns its id.
    pub async fn queue(tx: &mut Tx, mail: &NewMail<'_>, now: i64) -> Result<i64> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO outbox (id, chain, kind, recipient, subject, body, created_at, state, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $7)",
        )
        .bind(id)
        .bind(mail.chain)
        .bind(mail.kind)
        .bind(mail.recipient)
        .bind(mail.subject)
        .bind(mail.body)
        .bind(now)
        .execute(tx.conn())
        .await?;
        Ok(id)
    }

    /// Whether a message of `kind` to `recipient` was queued at or after `since`.
    pub async fn queued_since(c: &mut Conn, recipient: &str, kind: &str, since: i64) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND kind = $2 AND created_at >= $3")
            .bind(recipient)
            .bind(kind)
            .bind(since)
            .fetch_one(c)
            .await?;
        Ok(n > 0)
    }

    /// Queued messages due at `now`, oldest first.
    pub async fn due(c: &mut Conn, now: i64, limit: i64) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(select!("WHERE state = 'queued' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2"))
            .bind(now)
            .bind(limit)
            .fetch_all(c)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Claims a due message until `lease_until`; false when another worker got it first.
    pub async fn claim(tx: &mut Tx, row: &OutboxRow, lease_until: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE id = $2 AND state = 'queued' AND next_attempt_at = $3")
            .bind(lease_until)
            .bind(row.id)
            .bind(row.next_attempt_at)
            .execute(tx.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records an attempt: `state` is `sent`, `failed` (given up) or `queued` (retry at `next`).
    /// A finished message loses its body: it may hold a verification link.
    pub async fn attempted(tx: &mut Tx, id: i64, state: &str, error: Option<&str>, next: i64, now: i64) -> Result<()> {
        let done_at = (state != "queued").then_some(now);
        sqlx::query(
            "UPDATE outbox SET state = $1, attempts = attempts + 1, last_error = $2, next_attempt_at = $3, done_at = $4, \
             body = CASE WHEN $1 = 'queued' THEN body ELSE '' END WHERE id = $5",
        )
        .bind(state)
        .bind(error)
        .bind(next)
        .bind(done_at)
        .bind(id)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    /// Puts a claimed message back, due at `next`, without counting an attempt: the fault is
    /// the server's own (its relay password cannot be read), not the message's or the relay's.
    pub async fn postpone(tx: &mut Tx, id: i64, error: &str, next: i64) -> Result<()> {
        sqlx::query("UPDATE outbox SET last_error = $1, next_attempt_at = $2 WHERE id = $3 AND state = 'queued'")
            .bind(error)
            .bind(next)
            .bind(id)
            .execute(tx.conn())
            .await?;
        Ok(())
    }

    /// The newest messages of `chains` (all when `None`), newest first, without bodies'
    /// secrets: the body is left out because a verification link is a credential.
    pub async fn recent(c: &mut Conn, chain: Option<&str>, limit: i64) -> Result<Vec<OutboxRow>> {
        let rows = match chain {
            Some(chain) => {
                sqlx::query(select!("WHERE chain = $1 ORDER BY created_at DESC, id DESC LIMIT $2")).bind(chain).bind(limit).fetch_all(c).await?
            }
            None => sqlx::query(select!("ORDER BY created_at DESC, id DESC LIMIT $1")).bind(limit).fetch_all(c).await?,
        };
        rows.iter()
            .map(|r| from_row(r).map(|o| OutboxRow { body: String::new(), ..o }))
            .collect()
    }

}
