//! Document content: uploads (a new document or a new version) and downloads. An upload
//! streams to a temporary file first; only then does one transaction check the rights again,
//! charge the owner's quota in a single conditional update, record the version and move the
//! file into place. A cut, oversize or over-quota upload changes nothing.

use deskward_core::EntryName;
use deskward_core::acl::Rights;
use deskward_store::items::{self, ItemKind, NewItem, NewVersion, VersionRow};
use deskward_store::{Conn, ItemRow};
use serde_json::json;
use tokio::io::AsyncRead;

use crate::blobs::{Blobs, Cut, Incoming};
use crate::documents::{account_of, audit_target, parent_for_new};
use crate::{App, AppError, Caller};

/// A document's content ready to be sent.
#[derive(Debug)]
pub struct Content {
    pub item: ItemRow,
    pub version: VersionRow,
    pub file: tokio::fs::File,
}

/// What an upload may still add: (bytes, documents) before the owner's quotas.
async fn room(c: &mut Conn, owner: i64) -> Result<(Option<i64>, Option<i64>), AppError> {
    let used = items::usage::get(c, owner).await?;
    let (bytes, documents) = items::usage::quotas(c, owner).await?;
    Ok((bytes.map(|q| q - used.bytes), documents.map(|q| q - used.documents)))
}

fn over_quota(what: &str) -> AppError {
    AppError::QuotaExceeded(format!("this would pass the {what} quota of the documents' owner; nothing was stored"))
}

impl App {
    fn blobs(&self) -> Result<&Blobs, AppError> {
        self.blobs.as_ref().ok_or_else(|| AppError::Internal("document storage is not set up".into()))
    }

    /// Receives `body`, refusing it early when its announced length cannot fit.
    async fn receive(&self, body: impl AsyncRead + Unpin, length: Option<u64>, room_bytes: Option<i64>) -> Result<Incoming, AppError> {
        let room = room_bytes.map_or(u64::MAX, |r| u64::try_from(r.max(0)).unwrap_or(0));
        let max = self.max_document_bytes.min(room);
        if length.is_some_and(|l| l > max) {
            return Err(if room < self.max_document_bytes { over_quota("storage") } else { too_large(self.max_document_bytes) });
        }
        self.blobs()?.receive(body, max).await.map_err(|cut| match cut {
            Cut::TooLarge { .. } if room < self.max_document_bytes => over_quota("storage"),
            Cut::TooLarge { max } => too_large(max),
            Cut::Broken(why) => AppError::Invalid(format!("the upload was cut off ({why}); nothing was stored")),
            Cut::Disk(e) => AppError::Internal(format!("cannot write document content: {e}")),
        })
    }

    /// A new document named `name` in `parent` (`None`: the caller's top level), owned by the
    /// caller and charged to them.
    pub async fn upload_document(
        &self,
        caller: &Caller,
        parent: Option<i64>,
        name: &str,
        body: impl AsyncRead + Unpin,
        length: Option<u64>,
    ) -> Result<(ItemRow, i64), AppError> {
        self.documents_on(caller)?;
        let name = EntryName::parse(name)?;
        let (owner, _) = account_of(caller)?;
        let (room_bytes, room_docs) = {
            let mut c = self.store.conn().await?;
            parent_for_new(self, &mut c, caller, parent).await?;
            room(&mut c, owner).await?
        };
        if room_docs.is_some_and(|r| r < 1) {
            return Err(over_quota("document count"));
        }
        let incoming = self.receive(body, length, room_bytes).await?;
        let mut tx = match parent {
            Some(p) => self.begin_on_item(p).await?,
            None => self.begin_in_domain(account_of(caller)?.1).await?,
        };
        // Rights and the folder are checked again: both may have changed during the upload.
        let (parent_id, domain_id) = parent_for_new(self, tx.conn(), caller, parent).await?;
        let limits = items::usage::quotas(tx.conn(), owner).await?;
        if !items::usage::charge(&mut tx, owner, incoming.size, 1, limits).await? {
            return Err(over_quota("storage or document count"));
        }
        let now = self.now();
        let new = NewItem { domain_id, parent_id, kind: ItemKind::Document, name: name.as_str(), name_key: &name.key(), owner_id: owner, now };
        let id = ItemRow::insert(&mut tx, &new).await?;
        let version_id = VersionRow::new_id();
        let (size, sha256) = (incoming.size, incoming.sha256.clone());
        let number = VersionRow::insert(&mut tx, &NewVersion { id: version_id, item_id: id, size, sha256: &sha256, author_id: owner, now }).await?;
        let row = ItemRow::get(tx.conn(), id).await?.ok_or_else(|| AppError::Internal("a new document vanished".into()))?;
        let chain = self.chain_name(tx.conn(), domain_id).await?;
        let summary = json!({ "name": row.name, "parent": parent_id, "version": number, "size": size, "sha256": sha256 });
        let record = self.entry(caller, &chain, "document.create", audit_target(&row), summary);
        self.place_and_commit(tx, incoming, version_id, record).await?;
        Ok((row, number))
    }

    /// A new version of document `id`; needs write on it and is charged to its owner.
    pub async fn upload_version(&self, caller: &Caller, id: i64, body: impl AsyncRead + Unpin, length: Option<u64>) -> Result<(ItemRow, i64), AppError> {
        self.documents_on(caller)?;
        let (author, _) = account_of(caller)?;
        let room_bytes = {
            let mut c = self.store.conn().await?;
            let access = self.require(&mut c, caller, id, Rights::WRITE).await?;
            if access.item.kind != ItemKind::Document {
                return Err(AppError::Invalid(format!("{:?} is a folder; upload into it instead", access.item.name)));
            }
            room(&mut c, access.item.owner_id).await?.0
        };
        let incoming = self.receive(body, length, room_bytes).await?;
        let mut tx = self.begin_on_item(id).await?;
        let access = self.require(tx.conn(), caller, id, Rights::WRITE).await?;
        let owner = access.item.owner_id;
        let limits = items::usage::quotas(tx.conn(), owner).await?;
        if !items::usage::charge(&mut tx, owner, incoming.size, 0, limits).await? {
            return Err(over_quota("storage"));
        }
        let version_id = VersionRow::new_id();
        let (size, sha256) = (incoming.size, incoming.sha256.clone());
        let number = VersionRow::insert(&mut tx, &NewVersion { id: version_id, item_id: id, size, sha256: &sha256, author_id: author, now: self.now() }).await?;
        let row = ItemRow::get(tx.conn(), id).await?.ok_or_else(|| AppError::Internal("a document vanished".into()))?;
        let chain = self.chain_name(tx.conn(), row.domain_id).await?;
        let summary = json!({ "name": row.name, "version": number, "size": size, "sha256": sha256 });
        let record = self.entry(caller, &chain, "document.version", audit_target(&row), summary);
        self.place_and_commit(tx, incoming, version_id, record).await?;
        Ok((row, number))
    }

    /// Moves the content into place, then commits; a failed commit takes the file back.
    async fn place_and_commit(&self, tx: deskward_store::Tx, incoming: Incoming, version_id: i64, record: deskward_store::AuditEntry) -> Result<(), AppError> {
        let blobs = self.blobs()?;
        blobs.place(incoming, version_id).await?;
        if let Err(e) = tx.commit(record).await {
            blobs.remove(&[version_id]).await;
            return Err(e.into());
        }
        Ok(())
    }

    /// At start: removes unfinished uploads and files whose version was never committed.
    pub async fn sweep_documents(&self) -> Result<usize, AppError> {
        let Some(blobs) = self.blobs.clone() else { return Ok(0) };
        let mut c = self.store.conn().await?;
        let known: std::collections::HashSet<i64> = items::version_ids(&mut c).await?.into_iter().collect();
        drop(c);
        tokio::task::spawn_blocking(move || blobs.sweep(&known))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| AppError::Internal(format!("sweeping document files: {e}")))
    }

    /// A document's content, the current version unless `number` names another.
    pub async fn download(&self, caller: &Caller, id: i64, number: Option<i64>) -> Result<Content, AppError> {
        self.documents_on(caller)?;
        let mut c = self.store.conn().await?;
        let access = self.require(&mut c, caller, id, Rights::READ).await?;
        self.content_of(&mut c, access.item, number).await
    }

    pub(crate) async fn content_of(&self, c: &mut Conn, item: ItemRow, number: Option<i64>) -> Result<Content, AppError> {
        if item.kind != ItemKind::Document {
            return Err(AppError::Invalid(format!("{:?} is a folder and has no content", item.name)));
        }
        let versions = VersionRow::list(c, item.id).await?;
        let version = match number {
            None => versions.into_iter().next(),
            Some(n) => versions.into_iter().find(|v| v.number == n),
        }
        .ok_or_else(|| AppError::NotFound(format!("version {} of {:?}", number.unwrap_or(0), item.name)))?;
        let file = self.blobs()?.open_version(version.id).await?;
        Ok(Content { item, version, file })
    }
}

fn too_large(max: u64) -> AppError {
    AppError::TooLarge(format!("documents may hold at most {max} bytes (documents.max_size); nothing was stored"))
}
