//! Secrets at rest (K9): the one path every stored credential takes. With encryption off a
//! secret is stored as it is; once an administrator turns it on, every secret is sealed
//! (`core::secret`) under a key kept in a key file beside the database, never in it.
//!
//! The database names the active key (`secret_keys`); the key file must hold it. A missing,
//! unreadable or wrong key file locks the secrets (a clear error naming the file) and nothing
//! else: features that need no secret keep working, and nothing is re-sealed or deleted.
//! Turning encryption off and rotating the key are for the host's operator only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use deskward_core::audit::SYSTEM_CHAIN;
use deskward_core::authz::Actor;
use deskward_core::secret::{KeyId, NONCE_LEN, SecretKey};
use deskward_store::secrets::{SecretKeyRow, SecretRow};
use serde_json::json;
use zeroize::Zeroizing;

use crate::{App, AppError, Caller};

/// The longest secret accepted, in bytes.
const MAX_SECRET_LEN: usize = 4096;

/// The key files: the current one, the next one a rotation prepares, and retired ones kept
/// under their key's id. The server implements this (it alone touches the host's files);
/// every error is a whole sentence naming the file and what to do.
pub trait KeyFiles: Send + Sync + std::fmt::Debug {
    /// The current key file's path, for messages.
    fn path(&self) -> String;
    /// The current key, or `None` when the file does not exist.
    fn read_current(&self) -> Result<Option<SecretKey>, String>;
    /// The key a rotation prepared, or `None`.
    fn read_next(&self) -> Result<Option<SecretKey>, String>;
    /// Writes a new current key file (mode 0600); fails if one exists.
    fn write_current(&self, key: &SecretKey) -> Result<(), String>;
    /// Writes the next key file (mode 0600), replacing an unused one.
    fn write_next(&self, key: &SecretKey) -> Result<(), String>;
    /// Keeps the current file under `old`'s retired name, then makes the next file current.
    /// Safe to repeat after an interruption.
    fn promote_next(&self, old: KeyId) -> Result<(), String>;
    /// The file a retired key is kept in.
    fn retired_path(&self, id: KeyId) -> String;
    fn retired_exists(&self, id: KeyId) -> bool;
}

/// The key files and the keys read from them (checked against the database).
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    files: Option<Arc<dyn KeyFiles>>,
    keys: Arc<Mutex<HashMap<KeyId, SecretKey>>>,
}

impl Secrets {
    pub fn new(files: Arc<dyn KeyFiles>) -> Secrets {
        Secrets { files: Some(files), keys: Arc::default() }
    }

    fn files(&self) -> Result<&dyn KeyFiles, AppError> {
        self.files.as_deref().ok_or_else(|| AppError::Internal("no key file is configured".into()))
    }

    fn cached(&self, id: KeyId) -> Option<SecretKey> {
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id).cloned()
    }

    fn remember(&self, key: &SecretKey) {
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key.id(), key.clone());
    }
}

/// The two things an administrator must acknowledge before encryption is turned on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Acknowledgements {
    /// Losing the key file loses every encrypted secret.
    pub key_loss: bool,
    /// A secure backup of the key file is prepared (kept apart from the database's backups).
    pub key_backed_up: bool,
}

/// One stored secret as the status shows it: never its value.
#[derive(Debug, Clone)]
pub struct SecretInfo {
    pub owner: String,
    pub field: String,
    pub sealed_with: Option<String>,
    pub updated_at: i64,
    /// Why it does not open, if it does not.
    pub problem: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SecretsStatus {
    pub enabled: bool,
    pub key_file: String,
    /// Why the active key cannot be used, if it cannot.
    pub key_problem: Option<String>,
    pub keys: Vec<SecretKeyRow>,
    pub secrets: Vec<SecretInfo>,
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub from: String,
    pub to: String,
    pub secrets: usize,
    /// The file the previous key is kept in.
    pub kept_in: String,
    /// True when this only finished an earlier, interrupted rotation.
    pub finished_earlier: bool,
}

/// The stages of a rotation, reported as they are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStage {
    /// The new key is written to the next key file.
    KeyWritten,
    /// Every secret is re-sealed under the new key, in one transaction.
    Resealed,
    /// The new key file is current.
    Promoted,
}

fn new_key() -> SecretKey {
    SecretKey::from_random(rand::random(), rand::random())
}

fn nonce() -> [u8; NONCE_LEN] {
    rand::random()
}

fn locked(message: String) -> AppError {
    AppError::SecretsLocked(message)
}

fn operator_only(caller: &Caller, what: &str) -> Result<(), AppError> {
    match caller.actor {
        Actor::Operator => Ok(()),
        Actor::Account { .. } => Err(AppError::Forbidden(format!("{what} only at the host's command line (deskward secrets …), never from the web or the API"))),
    }
}

fn key_id(row: &SecretKeyRow) -> Result<KeyId, AppError> {
    KeyId::parse(&row.key_id).ok_or_else(|| locked(format!("the database names the key {:?}, which is not a key id: the database was altered", row.key_id)))
}

impl App {
    /// Removes replaced secrets from the database's files (see `Store::scrub_secrets`).
    pub(crate) async fn scrub(&self) {
        if let Err(e) = self.store.scrub_secrets().await {
            tracing::warn!(error = %e, "replaced secrets may stay in the database's files until its next checkpoint or vacuum");
        }
    }

    /// The active key, read from the key file and checked against the database; `None` while
    /// encryption is off. Finishes a rotation that was interrupted after it committed.
    pub(crate) async fn active_key(&self) -> Result<Option<SecretKey>, AppError> {
        let mut c = self.store.conn().await?;
        let Some(active) = SecretKeyRow::active(&mut c).await? else { return Ok(None) };
        drop(c);
        let id = key_id(&active)?;
        if let Some(key) = self.secrets.cached(id) {
            return Ok(Some(key));
        }
        let files = self.secrets.files()?;
        let current = files.read_current().map_err(locked)?;
        let key = match current {
            Some(k) if k.id() == id => k,
            other => match files.read_next().map_err(locked)? {
                // The rotation committed but did not get to replace the key file.
                Some(next) if next.id() == id && next.matches(&active.check_value) => {
                    let old = other.as_ref().map_or(id, SecretKey::id);
                    files.promote_next(old).map_err(locked)?;
                    tracing::info!(key = %id, "finished an interrupted key rotation: the new key file is current");
                    next
                }
                _ => return Err(locked(self.mismatch(files, &active, id, other.map(|k| k.id())))),
            },
        };
        if !key.matches(&active.check_value) {
            return Err(locked(format!(
                "the key file {} names key {id} but holds another key: it is not the file that sealed the stored secrets. Restore the right file from its backup; nothing was changed",
                files.path()
            )));
        }
        self.secrets.remember(&key);
        Ok(Some(key))
    }

    fn mismatch(&self, files: &dyn KeyFiles, active: &SecretKeyRow, id: KeyId, found: Option<KeyId>) -> String {
        let made = deskward_core::audit::day_of(active.created_at);
        let what = match found {
            None => format!("the key file {} is missing", files.path()),
            Some(other) => format!("the key file {} holds key {other}", files.path()),
        };
        let hint = if files.retired_exists(id) {
            format!("; {} holds it: copy it to {} (mode 0600)", files.retired_path(id), files.path())
        } else {
            String::new()
        };
        format!(
            "{what}, but the stored secrets are sealed with key {id} (made {made}). Restore that key's file from its backup{hint}, then restart; nothing was changed, and features that need no secret keep working"
        )
    }

    /// Opens a stored secret; `None` when none is stored.
    pub async fn secret(&self, owner: &str, field: &str) -> Result<Option<Zeroizing<String>>, AppError> {
        let mut c = self.store.conn().await?;
        let Some(row) = SecretRow::get(&mut c, owner, field).await? else { return Ok(None) };
        drop(c);
        open_row(&row, self.active_key().await?.as_ref()).map(Some)
    }
}

/// Opens `row` with the active key (`None` while encryption is off).
fn open_row(row: &SecretRow, active: Option<&SecretKey>) -> Result<Zeroizing<String>, AppError> {
    let name = format!("{}/{}", row.owner, row.field);
    match (&row.key_id, active) {
        (None, None) => Ok(Zeroizing::new(row.value.clone())),
        (None, Some(_)) => Err(locked(format!("the secret {name} is stored in the clear while encryption is on: the database was altered; set it again"))),
        (Some(id), Some(key)) if *id == key.id().to_string() => key
            .open(&row.owner, &row.field, &row.value)
            .map_err(|e| locked(format!("the secret {name} cannot be opened: {e}; set it again"))),
        (Some(id), _) => Err(locked(format!("the secret {name} is sealed with key {id}, which is not the active key: the database was altered; set it again"))),
    }
}

impl App {
    /// Stores a secret, sealed when encryption is on; `None` removes it. The caller audits.
    pub(crate) async fn store_secret(&self, tx: &mut deskward_store::Tx, owner: &str, field: &str, clear: Option<&str>, key: Option<&SecretKey>) -> Result<bool, AppError> {
        let active = SecretKeyRow::active(tx.conn()).await?;
        if active.as_ref().map(|a| a.key_id.as_str()) != key.map(|k| k.id().to_string()).as_deref() {
            return Err(AppError::Conflict("the encryption of secrets changed meanwhile; try again".into()));
        }
        let Some(clear) = clear else {
            SecretRow::remove(tx, owner, field).await?;
            return Ok(false);
        };
        let (key_id, value) = match key {
            Some(k) => (Some(k.id().to_string()), k.seal(nonce(), owner, field, clear)),
            None => (None, clear.to_owned()),
        };
        SecretRow { owner: owner.into(), field: field.into(), key_id, value, updated_at: self.now() }.put(tx).await?;
        Ok(key.is_some())
    }

    /// Sets or removes the SMTP relay's password (`mail.username`'s), audited as
    /// `mail.relay_password`: the record says whether it is set and sealed, never the value.
    pub async fn set_relay_password(&self, caller: &Caller, password: Option<&str>) -> Result<(), AppError> {
        caller.actor.may_manage_domains("set the mail relay's password")?;
        if let Some(p) = password {
            check_secret(p)?;
        }
        let key = self.active_key().await?;
        let mut tx = self.store.begin().await?;
        let sealed = self.store_secret(&mut tx, RELAY_OWNER, RELAY_FIELD, password, key.as_ref()).await?;
        let summary = match password {
            Some(_) => json!({ "set": true, "sealed": sealed }),
            None => json!({ "removed": true }),
        };
        tx.commit(self.entry(caller, SYSTEM_CHAIN, "mail.relay_password", format!("secret:{RELAY_OWNER}/{RELAY_FIELD}"), summary)).await?;
        self.scrub().await;
        Ok(())
    }

    /// The relay password, if one is stored.
    pub async fn relay_password(&self) -> Result<Option<Zeroizing<String>>, AppError> {
        self.secret(RELAY_OWNER, RELAY_FIELD).await
    }

    /// Whether encryption is on, the keys, every secret (opened to see that it opens; never
    /// shown): for system administrators.
    pub async fn secrets_status(&self, caller: &Caller) -> Result<SecretsStatus, AppError> {
        caller.actor.may_manage_domains("see the state of stored secrets")?;
        let mut c = self.store.conn().await?;
        let keys = SecretKeyRow::all(&mut c).await?;
        let rows = SecretRow::all(&mut c).await?;
        drop(c);
        let enabled = keys.iter().any(|k| k.retired_at.is_none());
        let (active, key_problem) = match self.active_key().await {
            Err(AppError::SecretsLocked(m)) => (None, Some(m)),
            Err(e) => return Err(e),
            Ok(key) => (key, None),
        };
        let mut secrets = Vec::with_capacity(rows.len());
        for row in &rows {
            let problem = match (&key_problem, open_row(row, active.as_ref())) {
                (Some(locked), _) => Some(locked.clone()),
                (None, Ok(_)) => None,
                (None, Err(AppError::SecretsLocked(m))) => Some(m),
                (None, Err(e)) => return Err(e),
            };
            secrets.push(SecretInfo { owner: row.owner.clone(), field: row.field.clone(), sealed_with: row.key_id.clone(), updated_at: row.updated_at, problem });
        }
        Ok(SecretsStatus { enabled, key_file: self.secrets.files()?.path(), key_problem, keys, secrets })
    }

    /// Turns encryption on: makes the key file if there is none, then seals every stored
    /// secret in one transaction. Audited `secrets.enabled`.
    pub async fn enable_encryption(&self, caller: &Caller, ack: Acknowledgements) -> Result<SecretsStatus, AppError> {
        caller.actor.may_manage_domains("turn on the encryption of stored secrets")?;
        if !(ack.key_loss && ack.key_backed_up) {
            return Err(AppError::Invalid(
                "turning encryption on needs both acknowledgements: that losing the key file loses the encrypted secrets, and that a secure backup of the key file is prepared".into(),
            ));
        }
        if self.active_key().await?.is_some() {
            return Err(AppError::Conflict("the encryption of stored secrets is already on".into()));
        }
        let files = self.secrets.files()?;
        let key = match files.read_current().map_err(locked)? {
            Some(k) => k,
            None => {
                let k = new_key();
                files.write_current(&k).map_err(locked)?;
                k
            }
        };
        let mut c = self.store.conn().await?;
        let known = SecretKeyRow::all(&mut c).await?.into_iter().find(|r| r.key_id == key.id().to_string());
        drop(c);
        if known.as_ref().is_some_and(|r| !key.matches(&r.check_value)) {
            return Err(locked(format!("the key file {} reuses the id of an earlier key but holds another key; move it away and try again", files.path())));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if SecretKeyRow::active(tx.conn()).await?.is_some() {
            return Err(AppError::Conflict("the encryption of stored secrets is already on".into()));
        }
        let rows = SecretRow::all(tx.conn()).await?;
        for row in &rows {
            let clear = open_row(row, None)?;
            let value = key.seal(nonce(), &row.owner, &row.field, &clear);
            SecretRow { key_id: Some(key.id().to_string()), value, ..row.clone() }.put(&mut tx).await?;
        }
        let record = SecretKeyRow { key_id: key.id().to_string(), check_value: key.check_value(nonce()), created_at: now, retired_at: None };
        let record = known.map_or(record, |k| SecretKeyRow { retired_at: None, ..k });
        record.activate(&mut tx, now).await?;
        let summary = json!({ "key_id": key.id().to_string(), "secrets": rows.len() });
        tx.commit(self.entry(caller, SYSTEM_CHAIN, "secrets.enabled", "secrets".into(), summary)).await?;
        self.scrub().await;
        self.secrets.remember(&key);
        self.secrets_status(caller).await
    }

    /// Turns encryption off, storing every secret in the clear again, in one transaction. The
    /// key file stays. Only the host's operator may. Audited `secrets.disabled`.
    pub async fn disable_encryption(&self, caller: &Caller) -> Result<usize, AppError> {
        operator_only(caller, "the encryption of stored secrets can be turned off")?;
        let Some(key) = self.active_key().await? else {
            return Err(AppError::Conflict("the encryption of stored secrets is already off".into()));
        };
        let mut tx = self.store.begin().await?;
        let rows = SecretRow::all(tx.conn()).await?;
        for row in &rows {
            let clear = open_row(row, Some(&key))?;
            SecretRow { key_id: None, value: clear.to_string(), ..row.clone() }.put(&mut tx).await?;
        }
        SecretKeyRow::retire_all(&mut tx, self.now()).await?;
        let summary = json!({ "key_id": key.id().to_string(), "secrets": rows.len() });
        tx.commit(self.entry(caller, SYSTEM_CHAIN, "secrets.disabled", "secrets".into(), summary)).await?;
        self.scrub().await;
        Ok(rows.len())
    }

    /// Replaces the key: writes a new key file beside the current one, re-seals every secret
    /// under it in one transaction, then makes it current and keeps the previous file under
    /// its key's id. Interrupted anywhere, running it again finishes or redoes it; every secret
    /// opens at every point. Only the host's operator may. Audited `secrets.rotated`.
    pub async fn rotate_secrets_key(&self, caller: &Caller, progress: &dyn Fn(RotationStage, &str)) -> Result<Rotation, AppError> {
        operator_only(caller, "the key of stored secrets can be rotated")?;
        let files = self.secrets.files()?;
        let mut c = self.store.conn().await?;
        let Some(active) = SecretKeyRow::active(&mut c).await? else {
            return Err(AppError::Conflict("the encryption of stored secrets is off: there is no key to rotate".into()));
        };
        drop(c);
        let before = files.read_current().map_err(locked)?.map(|k| k.id());
        let current = self.active_key().await?.ok_or_else(|| AppError::Conflict("encryption was turned off meanwhile".into()))?;
        if before != Some(current.id()) {
            // Reading the active key finished a rotation that had committed already.
            let from = before.map_or_else(|| "-".into(), |id| id.to_string());
            let kept_in = before.map_or_else(String::new, |id| files.retired_path(id));
            return Ok(Rotation { from, to: active.key_id, secrets: 0, kept_in, finished_earlier: true });
        }
        let next = match files.read_next().map_err(locked)? {
            // A rotation interrupted before it committed: its key was never used; reuse it.
            Some(k) if k.id() != current.id() => k,
            _ => {
                let k = new_key();
                files.write_next(&k).map_err(locked)?;
                k
            }
        };
        progress(RotationStage::KeyWritten, &next.id().to_string());
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if SecretKeyRow::active(tx.conn()).await?.map(|a| a.key_id) != Some(current.id().to_string()) {
            return Err(AppError::Conflict("the encryption of secrets changed meanwhile; run the rotation again".into()));
        }
        let rows = SecretRow::all(tx.conn()).await?;
        for row in &rows {
            let clear = open_row(row, Some(&current))?;
            let value = next.seal(nonce(), &row.owner, &row.field, &clear);
            SecretRow { key_id: Some(next.id().to_string()), value, updated_at: now, ..row.clone() }.put(&mut tx).await?;
        }
        SecretKeyRow { key_id: next.id().to_string(), check_value: next.check_value(nonce()), created_at: now, retired_at: None }.activate(&mut tx, now).await?;
        let summary = json!({ "from": current.id().to_string(), "to": next.id().to_string(), "secrets": rows.len() });
        tx.commit(self.entry(caller, SYSTEM_CHAIN, "secrets.rotated", "secrets".into(), summary)).await?;
        self.scrub().await;
        self.secrets.remember(&next);
        progress(RotationStage::Resealed, &rows.len().to_string());
        files.promote_next(current.id()).map_err(locked)?;
        progress(RotationStage::Promoted, &files.retired_path(current.id()));
        Ok(Rotation { from: current.id().to_string(), to: next.id().to_string(), secrets: rows.len(), kept_in: files.retired_path(current.id()), finished_earlier: false })
    }

    /// At start: `Ok(Some(id))` when encryption is on and its key is usable, `Ok(None)` when
    /// it is off, or why the secrets are locked.
    pub async fn check_secrets(&self) -> Result<Option<String>, AppError> {
        Ok(self.active_key().await?.map(|k| k.id().to_string()))
    }
}

/// The relay password's place in the secrets store.
const RELAY_OWNER: &str = "mail.relay";
const RELAY_FIELD: &str = "password";

pub(crate) fn check_secret(value: &str) -> Result<(), AppError> {
    if value.is_empty() {
        return Err(AppError::Invalid("the password is empty".into()));
    }
    if value.len() > MAX_SECRET_LEN {
        return Err(AppError::Invalid(format!("the password is longer than {MAX_SECRET_LEN} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(AppError::Invalid("the password contains a control character (a line break, a tab, NUL…)".into()));
    }
    Ok(())
}
