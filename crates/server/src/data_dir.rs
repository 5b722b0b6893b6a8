//! The data directory: created private (0700) on first start, checked on every start.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Creates the directory if needed and returns its absolute path.
pub fn prepare(dir: &Path) -> anyhow::Result<PathBuf> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("data directory {}: cannot create it", dir.display()))?;
    }
    let meta = std::fs::metadata(dir).with_context(|| format!("data directory {}: cannot read it", dir.display()))?;
    if !meta.is_dir() {
        bail!("data directory {}: exists but is not a directory; choose another path with --data-dir", dir.display());
    }
    let abs = dir.canonicalize().with_context(|| format!("data directory {}: cannot resolve it", dir.display()))?;
    let probe = abs.join(".write-test");
    std::fs::write(&probe, b"").with_context(|| format!("data directory {}: is not writable", abs.display()))?;
    let _ = std::fs::remove_file(&probe);
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(dir = %abs.display(), "data directory is readable by other users; run `chmod 700` on it");
    }
    Ok(abs)
}
