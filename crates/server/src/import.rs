//! Reads account import files. CSV: a header `login,role,password_hash[,class]` then one account
//! per line. JSON: an array of objects with the same keys. Errors name the line or entry.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use deskward_app::ImportRecord;

use crate::cli::account::Format;

/// Import files are small; refuse anything that could only be a mistake.
const MAX_BYTES: u64 = 64 * 1024 * 1024;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRecord {
    login: String,
    role: String,
    password_hash: String,
    #[serde(default)]
    class: Option<String>,
}

pub fn read(path: &Path, format: Format) -> anyhow::Result<Vec<ImportRecord>> {
    let size = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?.len();
    if size > MAX_BYTES {
        bail!("{}: file is larger than {} MiB", path.display(), MAX_BYTES >> 20);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read as UTF-8 text", path.display()))?;
    let records = match format {
        Format::Json => json(&text),
        Format::Csv => csv(&text),
    };
    records.map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn json(text: &str) -> anyhow::Result<Vec<ImportRecord>> {
    let records: Vec<JsonRecord> = serde_json::from_str(text)?;
    Ok(records
        .into_iter()
        .map(|r| ImportRecord { login: r.login, role: r.role, password_hash: r.password_hash, class: r.class })
        .collect())
}

fn csv(text: &str) -> anyhow::Result<Vec<ImportRecord>> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else { bail!("file is empty") };
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let with_class = match columns.as_slice() {
        ["login", "role", "password_hash"] => false,
        ["login", "role", "password_hash", "class"] => true,
        _ => bail!("line 1: header must be `login,role,password_hash` or `login,role,password_hash,class`, found {header:?}"),
    };
    let mut out = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let want = if with_class { 4 } else { 3 };
        if fields.len() != want || fields.iter().any(|f| f.contains('"')) {
            bail!("line {}: expected {want} comma-separated fields without quotes", i + 1);
        }
        out.push(ImportRecord {
            login: fields[0].to_owned(),
            role: fields[1].to_owned(),
            password_hash: fields[2].to_owned(),
            class: fields.get(3).filter(|c| !c.is_empty()).map(|c| (*c).to_owned()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reads_records_and_names_bad_lines() {
        let ok = csv("login,role,password_hash\na@x.org,user,$6$s$h\n\nb@x.org,agent,$2b$04$x\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].login, "b@x.org");
        let err = csv("login,role,password_hash\na@x.org,user\n").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(csv("name,pw\n").unwrap_err().to_string().contains("header"));
        assert!(csv("").unwrap_err().to_string().contains("empty"));
    }

    proptest::proptest! {
        // Import files are untrusted input: records or an error naming the line, never a panic.
        #[test]
        fn any_csv_is_read_or_refused(body in "(login,role,password_hash(,class)?\n)?([^\n]{0,60}\n){0,6}") {
            match csv(&body) {
                Ok(records) => proptest::prop_assert!(records.iter().all(|r| !r.login.contains(','))),
                Err(e) => proptest::prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}
