//! User classes: feature switches and quotas shared by their member accounts.

/// The features a class may switch off for its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    pub web: bool,
    pub mail: bool,
    pub im: bool,
    pub documents: bool,
    pub helpdesk: bool,
}

impl Features {
    /// A new class grants everything until an admin switches features off.
    pub const ALL: Features =
        Features { web: true, mail: true, im: true, documents: true, helpdesk: true };
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} must be a positive number of {unit} or absent, not {value}")]
pub struct BadQuota {
    pub key: &'static str,
    pub unit: &'static str,
    pub value: i64,
}

/// Checks a quota value; `None` means unlimited.
pub fn check_quota(key: &'static str, unit: &'static str, value: Option<i64>) -> Result<(), BadQuota> {
    match value {
        Some(v) if v < 0 => Err(BadQuota { key, unit, value: v }),
        _ => Ok(()),
    }
}
