//! Folders and documents (`/api/v1/items`, `/api/v1/shared`): docs/documents.md.

use serde::{Deserialize, Serialize};

/// A folder or a document, with what the caller may do on it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Item {
    pub id: i64,
    /// `folder` or `document`.
    pub kind: String,
    pub name: String,
    /// The folder holding it; 0 at the owner's top level.
    pub parent: i64,
    /// `name@domain`; `null` once the owner's account is removed.
    pub owner: Option<String>,
    /// A document's current size in bytes; 0 for folders.
    pub size: i64,
    /// `false` when the item breaks inheritance.
    pub inherit: bool,
    pub has_link: bool,
    pub has_password: bool,
    /// The caller's rights: some of `read`, `write`, `delete`, `share`.
    pub rights: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Version {
    pub number: i64,
    pub size: i64,
    pub sha256: String,
    pub author: Option<String>,
    pub created_at: String,
}

/// An item in full: where it is, and its content (a folder's items the caller may read, a
/// document's versions, newest first).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ItemDetail {
    pub item: Item,
    /// The ancestors the caller may read, top first.
    pub path: Vec<PathEntry>,
    pub children: Vec<Item>,
    pub versions: Vec<Version>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PathEntry {
    pub id: i64,
    pub name: String,
}

/// The caller's top level and the items others share with them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Listing {
    pub items: Vec<Item>,
    pub shared: Vec<Item>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFolder {
    pub name: String,
    /// The folder to make it in; absent or 0 for the caller's top level.
    #[serde(default)]
    pub parent: Option<i64>,
}

/// Rename and/or move.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateItem {
    pub name: Option<String>,
    /// The destination folder; 0 for the owner's top level.
    pub parent: Option<i64>,
}

/// A new document was stored, or a new version of one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stored {
    pub item: Item,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Grant {
    /// `account:NAME`, `group:NAME`, `domain`, `all-domains`, `public` or `password`.
    pub to: String,
    pub rights: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Acl {
    pub inherit: bool,
    pub grants: Vec<Grant>,
    pub has_link: bool,
    pub has_password: bool,
    /// Changes with every change of the grants or inheritance; also the answer's `ETag`, for
    /// `If-Match` on `PUT`.
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetAcl {
    /// Absent keeps the item's setting; only its owner or an administrator may change it.
    #[serde(default)]
    pub inherit: Option<bool>,
    pub grants: Vec<Grant>,
}

/// A share link's token, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Link {
    pub token: String,
    /// The page that opens it.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharePassword {
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reason {
    /// `admin`, `owner` or `grant`.
    pub source: String,
    /// The item it comes from; `null` for an administrator's rights.
    pub item: Option<PathEntry>,
    /// The grant's principal, as in [`Grant::to`].
    pub principal: Option<String>,
    pub rights: Vec<String>,
    pub inherited: bool,
}

/// May an account do what on an item, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Explanation {
    pub account: String,
    pub rights: Vec<String>,
    pub reasons: Vec<Reason>,
    /// The item where inheritance stops on the way up, if any.
    pub stopped_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    pub bytes: i64,
    pub documents: i64,
    /// `null`: unlimited.
    pub quota_bytes: Option<i64>,
    pub quota_documents: Option<i64>,
}
