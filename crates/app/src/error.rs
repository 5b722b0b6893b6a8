//! The one error type of the use cases. Each variant names what a client can act on; store
//! failures stay opaque to clients and are logged by the HTTP layer.

use deskward_core::authz::Denied;
use deskward_core::password::Violation;
use deskward_core::{NameError, class::BadQuota, password::hash::HashError, role::UnknownRole};
use deskward_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Invalid(String),
    #[error("not logged in, or the session has ended")]
    Unauthenticated,
    #[error("wrong login or password")]
    InvalidCredentials,
    /// A password change whose current password is wrong; the session stays valid.
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("account is disabled")]
    AccountDisabled,
    #[error("domain is disabled")]
    DomainDisabled,
    #[error("{0}")]
    Forbidden(String),
    #[error("the password must be changed before anything else (PUT /api/v1/me/password)")]
    PasswordChangeRequired,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("password refused: {}", .0.iter().map(|v| v.message()).collect::<Vec<_>>().join("; "))]
    Policy(Vec<Violation>),
    #[error("too many logins in progress; retry in a moment")]
    Busy,
    /// Refused by the guard before any password was looked at.
    #[error("{}; retry in {retry_after} seconds", if *.banned { "this address is banned after too many failed logins" } else { "too many failed logins on this account" })]
    TooManyAttempts { retry_after: i64, banned: bool },
    /// A right password from outside the domain's allow-list: the owner must confirm the address.
    #[error("{0}")]
    LoginHeld(String),
    /// A single-use link that was used already or expired.
    #[error("{0}")]
    LinkGone(String),
    /// Staff working from outside `http.admin_networks` / `http.agent_networks`.
    #[error("{0}")]
    NetworkRestricted(String),
    /// The database refuses writes (disk full, read-only); the transaction was rolled back.
    #[error("the database refuses writes (its disk is full or it is read-only); nothing was changed")]
    Unwritable(StoreError),
    /// The stored secrets cannot be used: the key file is missing, unreadable or wrong, or a
    /// secret was altered. The message names the file or the secret and what to do.
    #[error("{0}")]
    SecretsLocked(String),
    /// A directory login cannot be checked: the directory is down, slow, or refuses the
    /// bind account. The message is for administrators (URL, result code; never a password).
    #[error("{0}")]
    DirectoryUnavailable(String),
    /// The right password for a directory account whose password the directory says must be
    /// changed (expired, or to change at the next login): that happens in the directory.
    #[error("{0}")]
    DirectoryPasswordExpired(String),
    /// An authentication plugin cannot answer: it does not start, crashed, hangs, says
    /// something unreadable or reports its own error. The login fails closed.
    #[error("{0}")]
    PluginUnavailable(String),
    /// The caller's user class switches this feature off.
    #[error("your user class does not include {0}")]
    FeatureDisabled(String),
    /// Something the caller may not even read: answered like an unknown one, recorded as a
    /// refusal.
    #[error("{0} not found")]
    Hidden(String),
    /// The owner's class quota would be passed.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A document over `documents.max_size`.
    #[error("{0}")]
    TooLarge(String),
    /// A change made against a version of something that has changed since.
    #[error("{0}")]
    Stale(String),
    /// A share link whose share password is missing or wrong.
    #[error("{0}")]
    SharePassword(String),
    #[error("storage: {0}")]
    Store(StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { what } => AppError::Conflict(format!("{what} already exists")),
            e if e.is_unwritable() => AppError::Unwritable(e),
            other => AppError::Store(other),
        }
    }
}

impl From<NameError> for AppError {
    fn from(e: NameError) -> Self {
        AppError::Invalid(e.to_string())
    }
}

impl From<UnknownRole> for AppError {
    fn from(e: UnknownRole) -> Self {
        AppError::Invalid(e.to_string())
    }
}

impl From<BadQuota> for AppError {
    fn from(e: BadQuota) -> Self {
        AppError::Invalid(e.to_string())
    }
}

impl From<Denied> for AppError {
    fn from(e: Denied) -> Self {
        AppError::Forbidden(e.to_string())
    }
}

impl From<HashError> for AppError {
    fn from(e: HashError) -> Self {
        AppError::Internal(e.to_string())
    }
}
