//! Who may administer what. Admin rights are explicit and minimal: a domain admin acts only
//! inside their own domain and can never create or change a system admin.

use crate::Role;

/// The party performing an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// Someone with a shell on the host running the CLI against the data directory: they
    /// could read the database anyway, so they hold every right.
    Operator,
    Account { account_id: i64, domain_id: i64, role: Role },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("only a system administrator may {0}")]
    SystemAdminOnly(&'static str),
    #[error("administrator rights for this domain are required")]
    NotDomainAdmin,
    #[error("a domain administrator cannot grant or change the system-admin role")]
    CannotTouchSystemAdmin,
}

impl Actor {
    pub fn role(&self) -> Role {
        match self {
            Actor::Operator => Role::SystemAdmin,
            Actor::Account { role, .. } => *role,
        }
    }

    /// Creating, disabling and removing domains.
    pub fn may_manage_domains(&self, what: &'static str) -> Result<(), Denied> {
        if self.role() == Role::SystemAdmin {
            Ok(())
        } else {
            Err(Denied::SystemAdminOnly(what))
        }
    }

    /// Reading and changing accounts, groups, classes and policies of `domain_id`.
    pub fn may_administer(&self, domain_id: i64) -> Result<(), Denied> {
        match *self {
            Actor::Operator => Ok(()),
            Actor::Account { role: Role::SystemAdmin, .. } => Ok(()),
            Actor::Account { role: Role::DomainAdmin, domain_id: own, .. } if own == domain_id => {
                Ok(())
            }
            Actor::Account { .. } => Err(Denied::NotDomainAdmin),
        }
    }

    /// Changing an account that has (or would get) `role`.
    pub fn may_touch_role(&self, role: Role) -> Result<(), Denied> {
        if role == Role::SystemAdmin && self.role() != Role::SystemAdmin {
            Err(Denied::CannotTouchSystemAdmin)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(role: Role, domain_id: i64) -> Actor {
        Actor::Account { account_id: 1, domain_id, role }
    }

    #[test]
    fn domain_admin_stays_in_their_domain() {
        let admin = account(Role::DomainAdmin, 7);
        assert!(admin.may_administer(7).is_ok());
        assert_eq!(admin.may_administer(8), Err(Denied::NotDomainAdmin));
        assert!(admin.may_manage_domains("create domains").is_err());
        assert_eq!(admin.may_touch_role(Role::SystemAdmin), Err(Denied::CannotTouchSystemAdmin));
        assert!(admin.may_touch_role(Role::DomainAdmin).is_ok());
    }

    #[test]
    fn users_and_agents_administer_nothing() {
        for role in [Role::User, Role::Agent] {
            assert!(account(role, 7).may_administer(7).is_err());
            assert!(account(role, 7).may_manage_domains("x").is_err());
        }
    }

    #[test]
    fn system_admin_and_operator_may_do_everything() {
        for actor in [account(Role::SystemAdmin, 1), Actor::Operator] {
            assert!(actor.may_administer(99).is_ok());
            assert!(actor.may_manage_domains("x").is_ok());
            assert!(actor.may_touch_role(Role::SystemAdmin).is_ok());
        }
    }
}
