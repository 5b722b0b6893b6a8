//! Account roles. The order matters: each role has every right of the roles before it.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    User,
    Agent,
    DomainAdmin,
    SystemAdmin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::User, Role::Agent, Role::DomainAdmin, Role::SystemAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Agent => "agent",
            Role::DomainAdmin => "domain-admin",
            Role::SystemAdmin => "system-admin",
        }
    }

    /// Agents and admins follow the staff password policy; users follow the users' one.
    pub fn is_staff(self) -> bool {
        self >= Role::Agent
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected user, agent, domain-admin or system-admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
