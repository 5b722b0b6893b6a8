//! Conversation logging: a domain may have its users' instant messages logged, for compliance.
//! Each logged message is a record of the domain's conversation chain (`<domain>:im`), which
//! sits beside its audit chain and shares all its machinery: the hash chain and day seals,
//! browsing by day, search, export and verification, and the domain's retention. Admins read it
//! as they read the audit log (a domain admin only their own domain's).
//!
//! The instant-messaging service feeds it through [`App::log_conversation`]; nothing else
//! writes to a conversation chain.

use std::collections::BTreeSet;

use deskward_core::DomainName;
use deskward_core::audit::{clean_field, conversation_chain, cut_message};
use deskward_store::{Audit, DomainRow};
use serde_json::json;

use crate::domains::administered;
use crate::{App, AppError, Caller};

/// One instant message, as the messaging service hands it over to be logged.
#[derive(Debug, Clone)]
pub struct ConversationMessage {
    /// The conversation it belongs to: a room's name, or the id of a direct conversation.
    pub conversation: String,
    /// The logins it went to.
    pub to: Vec<String>,
    pub text: String,
}

/// Most recipients one message lists in its record; a bigger room's are counted instead.
const MAX_LISTED: usize = 100;

impl App {
    /// Switches the logging of `domain`'s conversations on or off. Only a system admin may: a
    /// domain admin switching it off could hide their own conversations.
    pub async fn set_im_logging(&self, caller: &Caller, domain: &str, on: bool) -> Result<DomainRow, AppError> {
        caller.actor.may_manage_domains("switch conversation logging")?;
        let mut tx = self.store.begin().await?;
        let mut row = administered(tx.conn(), &caller.actor, domain).await?;
        if row.im_logging == on {
            return Ok(row);
        }
        DomainRow::set_im_logging(&mut tx, row.id, on).await?;
        let summary = json!({ "from": row.im_logging, "to": on });
        tx.commit(self.entry(caller, &row.name, "domain.im_logging", format!("domain:{}", row.name), summary)).await?;
        row.im_logging = on;
        Ok(row)
    }

    /// Logs a message `sender` sent, in the conversation log of every domain involved (the
    /// sender's and the recipients') that has logging switched on, all in one transaction.
    /// Answers the chains it was logged in; none when no domain logs conversations.
    pub async fn log_conversation(&self, sender: &Caller, message: &ConversationMessage) -> Result<Vec<String>, AppError> {
        let mut domains = BTreeSet::new();
        for login in std::iter::once(&sender.name).chain(&message.to) {
            if let Some((_, domain)) = login.rsplit_once('@')
                && let Ok(name) = DomainName::parse(domain)
            {
                domains.insert(name.to_string());
            }
        }
        let mut logging = Vec::new();
        let mut c = self.store.conn().await?;
        for d in domains {
            if DomainRow::find(&mut c, &d).await?.is_some_and(|row| row.im_logging) {
                logging.push(d);
            }
        }
        drop(c);
        if logging.is_empty() {
            return Ok(Vec::new());
        }
        let text = cut_message(&message.text).unwrap_or(&message.text);
        let mut summary = json!({
            "to": message.to.iter().take(MAX_LISTED).map(|l| clean_field(l)).collect::<Vec<_>>(),
            "text": text,
        });
        if message.to.len() > MAX_LISTED {
            summary["recipients"] = json!(message.to.len());
        }
        if text.len() < message.text.len() {
            summary["cut_from_bytes"] = json!(message.text.len());
        }
        let target = format!("conversation:{}", message.conversation);
        let chains: Vec<String> = logging.iter().map(|d| conversation_chain(d)).collect();
        let entries = chains.iter().map(|chain| self.entry(sender, chain, "im.message", target.clone(), summary.clone())).collect();
        let audit = Audit::many(entries).ok_or_else(|| AppError::Internal("no conversation record".into()))?;
        let tx = self.store.begin().await?;
        tx.commit(audit).await?;
        Ok(chains)
    }
}
