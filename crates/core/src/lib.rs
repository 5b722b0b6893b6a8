//! Deskward's domain model and rules. Nothing here does I/O: time arrives as a parameter
//! (`now`, Unix seconds) and randomness as bytes, so every rule can be tested exactly.

pub mod acl;
pub mod audit;
pub mod authz;
pub mod class;
pub mod entry_name;
pub mod hostile;
pub mod name;
pub mod net;
pub mod password;
pub mod role;
pub mod secret;

pub use entry_name::EntryName;
pub use name::{AccountName, DomainName, EmailAddress, Login, NameError, ObjectName};
pub use role::Role;
