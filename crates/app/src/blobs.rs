//! Document content on disk: one file per version, named by the version's id (never by a
//! user's name, so no name can reach a path). An upload streams into `tmp/` while it is hashed
//! and counted, is synced, and is renamed into place inside the transaction that records it;
//! a cut or refused upload leaves nothing behind, and a file without its version (a crash
//! between rename and commit) is swept at a later start once it is an hour old.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::AppError;

/// Bytes read per step of an upload.
const CHUNK: usize = 64 * 1024;

/// Files without a version are swept at start only once they are this old.
pub const SWEEP_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
    /// An upload that sends nothing for this long is abandoned.
    pub idle: Duration,
}

/// Content received into a temporary file; removed on drop unless [`Blobs::place`] moved it.
#[derive(Debug)]
pub struct Incoming {
    path: Option<PathBuf>,
    pub size: i64,
    pub sha256: String,
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Why an upload stopped before its end.
#[derive(Debug)]
pub enum Cut {
    /// More than `max` bytes arrived.
    TooLarge { max: u64 },
    /// The client stopped sending or the connection broke.
    Broken(String),
    /// The disk refused the content.
    Disk(std::io::Error),
}

impl Blobs {
    /// Opens (making it 0700 when new) the content directory.
    pub fn open(root: &Path, idle: Duration) -> std::io::Result<Blobs> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(root.join("tmp"))?;
        Ok(Blobs { root: root.to_owned(), idle })
    }

    fn file_of(&self, version_id: i64) -> PathBuf {
        self.root.join(format!("{:02x}", version_id & 0xff)).join(version_id.to_string())
    }

    /// Streams `body` into a temporary file, hashing it, stopping past `max` bytes.
    pub async fn receive(&self, mut body: impl AsyncRead + Unpin, max: u64) -> Result<Incoming, Cut> {
        let path = self.root.join("tmp").join(crate::random_token());
        // Created synchronously (one quick system call): an upload whose client goes away is
        // cancelled at an await, and an asynchronous create still running on the blocking pool
        // would make the file after its guard had already removed the path.
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(Cut::Disk)?;
        let mut incoming = Incoming { path: Some(path.clone()), size: 0, sha256: String::new() };
        let mut file = tokio::fs::File::from_std(file);
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut size: u64 = 0;
        loop {
            let n = match tokio::time::timeout(self.idle, body.read(&mut buf)).await {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(Cut::Broken(e.to_string())),
                Err(_) => return Err(Cut::Broken(format!("nothing arrived for {} seconds", self.idle.as_secs()))),
            };
            size += n as u64;
            if size > max {
                return Err(Cut::TooLarge { max });
            }
            let chunk = buf.get(..n).unwrap_or_default();
            hash.update(chunk);
            file.write_all(chunk).await.map_err(Cut::Disk)?;
        }
        file.sync_all().await.map_err(Cut::Disk)?;
        incoming.size = i64::try_from(size).unwrap_or(i64::MAX);
        incoming.sha256 = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(incoming)
    }

    /// Moves received content to its version's file. Called inside the recording
    /// transaction; if that does not commit, [`Blobs::remove`] takes the file back.
    pub async fn place(&self, mut incoming: Incoming, version_id: i64) -> Result<(), AppError> {
        let to = self.file_of(version_id);
        let io = |e: std::io::Error| AppError::Internal(format!("cannot store document content: {e}"));
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        if let Some(from) = incoming.path.take()
            && let Err(e) = tokio::fs::rename(&from, &to).await
        {
            let _ = tokio::fs::remove_file(&from).await;
            return Err(io(e));
        }
        Ok(())
    }

    pub async fn open_version(&self, version_id: i64) -> Result<tokio::fs::File, AppError> {
        tokio::fs::File::open(self.file_of(version_id))
            .await
            .map_err(|e| AppError::Internal(format!("content of version {version_id} cannot be read: {e}")))
    }

    /// Removes the files of versions whose records are gone; a missing file is not an error.
    pub async fn remove(&self, version_ids: &[i64]) {
        for id in version_ids {
            if let Err(e) = tokio::fs::remove_file(self.file_of(*id)).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(version = id, error = %e, "cannot remove a document version's file");
            }
        }
    }

    /// At start: removes unfinished uploads and files no version refers to, if they are older
    /// than [`SWEEP_AFTER`]: with several servers on one content directory, another one may be
    /// between placing a file and committing its version. Answers how many were removed.
    pub fn sweep(&self, known: &std::collections::HashSet<i64>) -> std::io::Result<usize> {
        let stale = |entry: &std::fs::DirEntry| -> std::io::Result<bool> {
            let age = entry.metadata()?.modified()?.elapsed().unwrap_or_default();
            Ok(age >= SWEEP_AFTER)
        };
        let mut removed = 0;
        for entry in std::fs::read_dir(self.root.join("tmp"))? {
            let entry = entry?;
            if stale(&entry)? {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        for dir in std::fs::read_dir(&self.root)? {
            let dir = dir?;
            if dir.file_name() == "tmp" || !dir.file_type()?.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(dir.path())? {
                let entry = entry?;
                let id = entry.file_name().to_str().and_then(|s| s.parse::<i64>().ok());
                if id.is_none_or(|id| !known.contains(&id)) && stale(&entry)? {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}
