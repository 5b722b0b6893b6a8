//! Audit archives on disk: `<dir>/<chain>/<yyyy>/<mm>/<dd>.jsonl`, one record per line, as
//! `deskward audit export` writes them and retention leaves them. Files are written to a
//! temporary name, flushed and renamed, so a crash leaves either the old file or the new one.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use deskward_core::audit::{ChainCheck, Record, SYSTEM_CHAIN, conversations_of};
use deskward_core::DomainName;

/// A chain's directory: `<dir>/<domain>`, `<dir>/<domain>/im` for its conversation log, or
/// `<dir>/_system`. Refuses any other chain name, so the result is always safe as a path.
pub fn chain_dir(dir: &Path, chain: &str) -> anyhow::Result<PathBuf> {
    if chain == SYSTEM_CHAIN {
        return Ok(dir.join(chain));
    }
    match conversations_of(chain) {
        Some(domain) => Ok(dir.join(DomainName::parse(domain)?.as_str()).join(CONVERSATIONS_DIR)),
        None => Ok(dir.join(DomainName::parse(chain)?.as_str())),
    }
}

/// The folder of a domain's conversation log inside the domain's own.
const CONVERSATIONS_DIR: &str = "im";

/// `<dir>/<chain>/<yyyy>/<mm>/<dd>.jsonl`.
pub fn day_path(dir: &Path, chain: &str, day: &str) -> anyhow::Result<PathBuf> {
    let (y, rest) = day.split_once('-').context("bad day")?;
    let (m, d) = rest.split_once('-').context("bad day")?;
    Ok(chain_dir(dir, chain)?.join(y).join(m).join(format!("{d}.jsonl")))
}

/// Writes one day's records, replacing the file if it exists.
pub fn write_day(dir: &Path, chain: &str, day: &str, records: &[Record]) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let path = day_path(dir, chain, day)?;
    let parent = path.parent().context("archive path has no parent")?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let tmp = path.with_extension("jsonl.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    let mut out = std::io::BufWriter::new(&mut file);
    for r in records {
        serde_json::to_writer(&mut out, &deskward_http::audit_record(r))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    drop(out);
    file.sync_all().with_context(|| format!("cannot flush {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
    // The rename is durable once the directory is flushed too.
    std::fs::File::open(parent).and_then(|d| d.sync_all()).with_context(|| format!("cannot flush {}", parent.display()))?;
    Ok(path)
}

/// The day files of a chain in an archive, oldest first.
pub fn days(dir: &Path, chain: &str) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let root = chain_dir(dir, chain)?;
    let mut out = Vec::new();
    if !root.exists() {
        return Ok(out);
    }
    let entries = |p: &Path| -> anyhow::Result<Vec<(String, PathBuf)>> {
        let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(p)
            .with_context(|| format!("cannot read {}", p.display()))?
            .filter_map(Result::ok)
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        v.sort();
        Ok(v)
    };
    for (y, year) in entries(&root)? {
        // A domain's folder also holds its conversation log's, which is a chain of its own.
        if y == CONVERSATIONS_DIR {
            continue;
        }
        for (m, month) in entries(&year)? {
            for (file, path) in entries(&month)? {
                let Some(d) = file.strip_suffix(".jsonl") else { continue };
                let day = format!("{y}-{m}-{d}");
                if deskward_core::audit::day_start(&day).is_none() {
                    bail!("{} is not an archive day file (<yyyy>/<mm>/<dd>.jsonl)", path.display());
                }
                out.push((day, path));
            }
        }
    }
    Ok(out)
}

/// Walks a chain's archive in order through `check`, calling `each` on every record. The
/// error names the file and line of the first bad record.
pub fn walk(dir: &Path, chain: &str, check: &mut ChainCheck, mut each: impl FnMut(&Record)) -> anyhow::Result<()> {
    for (day, path) in days(dir, chain)? {
        let file = std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let at = || format!("{} line {}", path.display(), i + 1);
            let line = line.with_context(at)?;
            let wire: deskward_proto::AuditRecord =
                serde_json::from_str(&line).map_err(|e| anyhow::anyhow!("{}: not an audit record ({e}): edited", at()))?;
            let record = deskward_http::audit_record_in(wire).map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
            if record.day() != day {
                bail!("{}: {} belongs to {}, not this day's file: it was moved", at(), record.describe(), record.day());
            }
            check.push(&record).map_err(|b| anyhow::anyhow!("{}: {b}", at()))?;
            each(&record);
        }
    }
    Ok(())
}
