//! Passwords: one-way hashes (argon2id, with legacy schemes accepted once for upgrade),
//! the per-domain policy, and the shipped list of common passwords.

pub mod blocklist;
pub mod hash;
pub mod policy;

pub use hash::{HashParams, HashScheme, Verification};
pub use policy::{Audience, Policy, Violation};
