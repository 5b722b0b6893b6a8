//! The order of a domain's authentication back ends (docs/plugins.md).
//!
//! An account is bound to the back end that made it: local accounts to their own password,
//! directory accounts to the directory, plugin accounts to their plugin; no other back end
//! ever answers for them. The order decides which back ends may be used at all, and which
//! one makes the account of a login that names none: the first in the order that knows the
//! person. Only system administrators change it, as with directories: a plugin runs with the
//! server's rights.

use deskward_core::audit::clean_field;
use deskward_store::{AccountRow, Bound, Conn, DirectoryRow, SessionRow, auth_orders};
use serde_json::json;

use crate::domains::administered;
use crate::{App, AppError, Caller};

/// The most back ends an order lists.
const MAX_BACKENDS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Accounts with a password stored in Deskward.
    Local,
    /// The domain's LDAP or Active Directory connection.
    Directory,
    /// An authentication plugin named in the server's configuration.
    Plugin(String),
}

impl Backend {
    pub fn parse(s: &str) -> Result<Backend, AppError> {
        match s {
            "local" => Ok(Backend::Local),
            "directory" => Ok(Backend::Directory),
            _ => match s.strip_prefix("plugin:") {
                Some(name) if crate::plugin::valid_name(name) => Ok(Backend::Plugin(name.to_owned())),
                _ => Err(AppError::Invalid(format!("{:?} is not a back end: say local, directory or plugin:<name>", clean_field(s)))),
            },
        }
    }

    /// The back end an existing account is bound to.
    pub fn of(account: &AccountRow) -> Backend {
        match (&account.directory_dn, &account.auth_plugin) {
            (Some(_), _) => Backend::Directory,
            (None, Some((plugin, _))) => Backend::Plugin(plugin.clone()),
            (None, None) => Backend::Local,
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Local => f.write_str("local"),
            Backend::Directory => f.write_str("directory"),
            Backend::Plugin(name) => write!(f, "plugin:{name}"),
        }
    }
}

/// A domain's order, as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthOrder {
    pub domain: String,
    pub backends: Vec<Backend>,
    /// The domain keeps the default order (local, then its directory if it has one).
    pub default: bool,
    /// The plugins this server's configuration defines, which an order may name.
    pub plugins: Vec<String>,
}

/// The default: local accounts, then the directory when the domain has one.
fn default_order(has_directory: bool) -> Vec<Backend> {
    if has_directory { vec![Backend::Local, Backend::Directory] } else { vec![Backend::Local] }
}

fn parse_all(names: &[String]) -> Result<Vec<Backend>, AppError> {
    names.iter().map(|n| Backend::parse(n)).collect()
}

/// The order of domain `domain_id`, and whether it is the default.
async fn order_of(c: &mut Conn, domain_id: i64) -> Result<(Vec<Backend>, bool), AppError> {
    match auth_orders::get(c, domain_id).await? {
        Some(names) => Ok((parse_all(&names)?, false)),
        None => Ok((default_order(DirectoryRow::get(c, domain_id).await?.is_some()), true)),
    }
}

/// The order a login of `domain` goes through; the caller has already looked its directory up.
pub(crate) async fn order_for_login(c: &mut Conn, domain: &str, has_directory: bool) -> Result<Vec<Backend>, AppError> {
    match auth_orders::of_domain(c, domain).await? {
        Some(names) => parse_all(&names),
        None => Ok(default_order(has_directory)),
    }
}

impl App {
    /// The domain's order; its administrators read it.
    pub async fn auth_order(&self, caller: &Caller, domain: &str) -> Result<AuthOrder, AppError> {
        let mut c = self.store.conn().await?;
        let d = administered(&mut c, &caller.actor, domain).await?;
        let (backends, default) = order_of(&mut c, d.id).await?;
        Ok(AuthOrder { domain: d.name, backends, default, plugins: self.plugins.names() })
    }

    /// Sets the domain's order (`None`: back to the default). Each back end once; a directory
    /// only when the domain has one; a plugin only when the configuration defines it.
    pub async fn set_auth_order(&self, caller: &Caller, domain: &str, names: Option<&[String]>) -> Result<AuthOrder, AppError> {
        caller.actor.may_manage_domains("choose how a domain's logins are checked")?;
        let mut tx = self.store.begin().await?;
        let d = administered(tx.conn(), &caller.actor, domain).await?;
        let (before, was_default) = order_of(tx.conn(), d.id).await?;
        let backends = match names {
            None => {
                auth_orders::remove(&mut tx, d.id).await?;
                default_order(DirectoryRow::get(tx.conn(), d.id).await?.is_some())
            }
            Some(names) => {
                let backends = self.check_order(tx.conn(), d.id, names).await?;
                let names: Vec<String> = backends.iter().map(Backend::to_string).collect();
                auth_orders::put(&mut tx, d.id, &names, self.now()).await?;
                backends
            }
        };
        // The caller cannot take away the back end of their own account in this domain.
        if let deskward_core::authz::Actor::Account { account_id, domain_id, .. } = caller.actor
            && domain_id == d.id
            && let Some(me) = AccountRow::get(tx.conn(), account_id).await?
            && !backends.contains(&Backend::of(&me))
        {
            return Err(AppError::Conflict(format!(
                "this order leaves out {}, which checks your own account's logins: you would lock yourself out",
                Backend::of(&me)
            )));
        }
        // Accounts whose back end is gone can no longer log in; their sessions end now too.
        let mut ended = 0;
        for gone in before.iter().filter(|b| !backends.contains(b)) {
            let bound = match gone {
                Backend::Local => Bound::Local,
                Backend::Directory => Bound::Directory,
                Backend::Plugin(name) => Bound::Plugin(name),
            };
            ended += SessionRow::delete_for_backend(&mut tx, d.id, bound).await?;
        }
        let list = |b: &[Backend]| b.iter().map(Backend::to_string).collect::<Vec<_>>();
        let summary = json!({
            "before": list(&before),
            "after": list(&backends),
            "was_default": was_default,
            "default": names.is_none(),
            "sessions_ended": ended,
        });
        tx.commit(self.entry(caller, &d.name, "domain.auth_order", format!("domain:{}", d.name), summary)).await?;
        self.auth_cache.clear();
        Ok(AuthOrder { domain: d.name, backends, default: names.is_none(), plugins: self.plugins.names() })
    }

    async fn check_order(&self, c: &mut Conn, domain_id: i64, names: &[String]) -> Result<Vec<Backend>, AppError> {
        if names.is_empty() || names.len() > MAX_BACKENDS {
            return Err(AppError::Invalid(format!("an order lists 1 to {MAX_BACKENDS} back ends")));
        }
        let mut backends: Vec<Backend> = Vec::new();
        for name in names {
            let b = Backend::parse(name.trim())?;
            if backends.contains(&b) {
                return Err(AppError::Invalid(format!("{b} is listed twice")));
            }
            match &b {
                Backend::Local => {}
                Backend::Directory if DirectoryRow::get(c, domain_id).await?.is_none() => {
                    return Err(AppError::Invalid("the domain has no directory: connect one first".into()));
                }
                Backend::Directory => {}
                Backend::Plugin(p) if self.plugins.get(p).is_none() => {
                    let known = self.plugins.names();
                    let known = if known.is_empty() { "none is configured".to_owned() } else { format!("configured: {}", known.join(", ")) };
                    return Err(AppError::Invalid(format!("no plugin {p} in the server's configuration ({known})")));
                }
                Backend::Plugin(_) => {}
            }
            backends.push(b);
        }
        Ok(backends)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_ends_read_and_write_the_same() {
        for s in ["local", "directory", "plugin:htpasswd", "plugin:sql-2"] {
            assert_eq!(Backend::parse(s).unwrap().to_string(), s);
        }
        for bad in ["", "Local", "plugin:", "plugin:../x", "plugin:A", "ldap", "plugin:a b"] {
            assert!(Backend::parse(bad).is_err(), "{bad}");
        }
    }
}
