//! The key files of stored secrets (see docs/secrets.md): `encryption-key.bin` holds the
//! active key, `encryption-key.next.bin` the key a rotation prepares, and
//! `encryption-key.<id>.bin` each key a rotation retired. Every file is written whole under a
//! temporary name with mode 0600 and then linked or renamed into place, so a crash leaves
//! either the old file or the new one, never half of one.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use deskward_app::KeyFiles;
use deskward_core::secret::{KeyId, SecretKey};

/// The key files beside `path` (the current one).
#[derive(Debug, Clone)]
pub struct KeyFileDir {
    path: PathBuf,
}

impl KeyFileDir {
    pub fn new(path: PathBuf) -> KeyFileDir {
        KeyFileDir { path }
    }

    /// `encryption-key.<tag>.bin` beside the current file.
    fn sibling(&self, tag: &str) -> PathBuf {
        let stem = self.path.file_stem().map_or_else(|| "encryption-key".into(), |s| s.to_string_lossy().into_owned());
        let name = match self.path.extension() {
            Some(ext) => format!("{stem}.{tag}.{}", ext.to_string_lossy()),
            None => format!("{stem}.{tag}"),
        };
        self.path.with_file_name(name)
    }

    fn next_path(&self) -> PathBuf {
        self.sibling("next")
    }

    fn dir(&self) -> &Path {
        self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
    }

    /// Makes renames and links in the directory durable.
    fn sync_dir(&self) -> Result<(), String> {
        File::open(self.dir()).and_then(|d| d.sync_all()).map_err(|e| format!("cannot sync the directory of {}: {e}", self.path.display()))
    }

    /// Removes temporary key files whose writer is gone (killed before it could link or
    /// rename them). Such a file was never in use: no secret is sealed under its key yet.
    fn sweep_temporaries(&self) {
        let prefix = self.sibling("tmp-").file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (head, tail) = prefix.split_once("tmp-").map_or((prefix.as_str(), ""), |(h, t)| (h, t));
        let Ok(entries) = fs::read_dir(self.dir()) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(head).and_then(|r| r.strip_prefix("tmp-")).and_then(|r| r.strip_suffix(tail)) else { continue };
            if pid.parse::<u32>().is_ok_and(|pid| pid != std::process::id() && !process_alive(pid)) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Writes `key` to a fresh temporary file in the key files' directory.
    fn write_temporary(&self, key: &SecretKey) -> Result<PathBuf, String> {
        self.sweep_temporaries();
        let tmp = self.sibling(&format!("tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("cannot create the key file {}: {e}", tmp.display()))?;
        f.write_all(&key.to_file_bytes()).and_then(|()| f.sync_all()).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("cannot write the key file {}: {e}", tmp.display())
        })?;
        Ok(tmp)
    }
}

/// Whether process `pid` still runs; where that cannot be told, it is taken to run, so
/// nothing is removed on a guess.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// Reads a key file: `None` when it does not exist; an error naming the file and what to do
/// when it cannot be used (unreadable, readable by others, damaged).
fn read(path: &Path) -> Result<Option<SecretKey>, String> {
    let shown = path.display();
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the key file {shown}: {e}; make it readable by the server's user only (chmod 600) and restart; nothing was changed")),
    };
    if !meta.is_file() {
        return Err(format!("the key file {shown} is not a regular file; restore the key file from its backup and restart; nothing was changed"));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "the key file {shown} can be read or changed by other users (mode {mode:04o}); run `chmod 600 {shown}`, check who could have copied it, and restart; the key was not used and nothing was changed"
        ));
    }
    let bytes = fs::read(path).map_err(|e| format!("cannot read the key file {shown}: {e}; make it readable by the server's user and restart; nothing was changed"))?;
    SecretKey::from_file_bytes(&bytes)
        .map(Some)
        .map_err(|e| format!("the key file {shown} cannot be used: {e}. Restore it from its backup and restart; nothing was changed"))
}

impl KeyFiles for KeyFileDir {
    fn path(&self) -> String {
        self.path.display().to_string()
    }

    fn read_current(&self) -> Result<Option<SecretKey>, String> {
        read(&self.path)
    }

    fn read_next(&self) -> Result<Option<SecretKey>, String> {
        read(&self.next_path())
    }

    fn write_current(&self, key: &SecretKey) -> Result<(), String> {
        let tmp = self.write_temporary(key)?;
        // A link, not a rename: it fails rather than replace a key file that appeared meanwhile.
        let linked = fs::hard_link(&tmp, &self.path);
        let _ = fs::remove_file(&tmp);
        linked.map_err(|e| format!("cannot create the key file {}: {e}", self.path.display()))?;
        self.sync_dir()
    }

    fn write_next(&self, key: &SecretKey) -> Result<(), String> {
        let tmp = self.write_temporary(key)?;
        fs::rename(&tmp, self.next_path()).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("cannot create the key file {}: {e}", self.next_path().display())
        })?;
        self.sync_dir()
    }

    fn promote_next(&self, old: KeyId) -> Result<(), String> {
        let next = self.next_path();
        if !next.exists() {
            return Ok(());
        }
        let retired = self.sibling(&old.to_string());
        if self.path.exists() && !retired.exists() {
            fs::hard_link(&self.path, &retired).map_err(|e| format!("cannot keep the previous key file as {}: {e}", retired.display()))?;
            self.sync_dir()?;
        }
        fs::rename(&next, &self.path).map_err(|e| format!("cannot move {} to {}: {e}", next.display(), self.path.display()))?;
        self.sync_dir()
    }

    fn retired_path(&self, id: KeyId) -> String {
        self.sibling(&id.to_string()).display().to_string()
    }

    fn retired_exists(&self, id: KeyId) -> bool {
        self.sibling(&id.to_string()).is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("deskward-keyfile-{}-{}", std::process::id(), rand_suffix()));
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn rand_suffix() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    }

    #[test]
    fn files_are_private_whole_and_never_replaced_by_accident() {
        let d = dir();
        let files = KeyFileDir::new(d.join("encryption-key.bin"));
        assert!(files.read_current().unwrap().is_none());
        let a = SecretKey::from_random([1; 8], [2; 32]);
        files.write_current(&a).unwrap();
        let meta = fs::metadata(d.join("encryption-key.bin")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(files.read_current().unwrap().unwrap().id(), a.id());
        let b = SecretKey::from_random([3; 8], [4; 32]);
        assert!(files.write_current(&b).is_err(), "an existing key file is never overwritten");
        files.write_next(&b).unwrap();
        files.promote_next(a.id()).unwrap();
        assert_eq!(files.read_current().unwrap().unwrap().id(), b.id());
        assert!(files.retired_exists(a.id()));
        assert!(files.retired_path(a.id()).ends_with("encryption-key.0101010101010101.bin"));
        // Promoting again is harmless.
        files.promote_next(a.id()).unwrap();
        assert_eq!(files.read_current().unwrap().unwrap().id(), b.id());
        let leftovers: Vec<_> = fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.contains("tmp")).collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_temporary_left_by_a_killed_writer_is_swept_and_a_living_ones_is_not() {
        let d = dir();
        let files = KeyFileDir::new(d.join("encryption-key.bin"));
        // No process has this id (above the kernel's pid limit); process 1 always runs.
        let dead = d.join("encryption-key.tmp-4194305.bin");
        let living = d.join("encryption-key.tmp-1.bin");
        let other = d.join("notes.tmp-7.txt");
        for p in [&dead, &living, &other] {
            fs::write(p, b"x").unwrap();
        }
        files.write_next(&SecretKey::from_random([1; 8], [2; 32])).unwrap();
        assert!(!dead.exists() && living.exists() && other.exists());
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn an_open_damaged_or_odd_file_is_refused_with_the_fix() {
        let d = dir();
        let path = d.join("encryption-key.bin");
        let files = KeyFileDir::new(path.clone());
        files.write_current(&SecretKey::from_random([1; 8], [2; 32])).unwrap();
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        let e = files.read_current().unwrap_err();
        assert!(e.contains("mode 0644") && e.contains(&format!("chmod 600 {}", path.display())), "{e}");
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..30]).unwrap();
        let e = files.read_current().unwrap_err();
        assert!(e.contains("30 bytes long") && e.contains(&path.display().to_string()), "{e}");
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        assert!(files.read_current().unwrap_err().contains("not a regular file"));
        fs::remove_dir_all(d).unwrap();
    }
}
