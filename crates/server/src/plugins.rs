//! Authentication plugin definitions: one `<name>.toml` per plugin in `plugins.dir`
//! (docs/plugins.md). Read at start; a definition with a problem stops the start with its
//! file, line and what to fix, as the main configuration does.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use deskward_app::PluginSpec;
use deskward_app::plugin::valid_name;
use toml_edit::{Document, Item, Value};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const TIMEOUTS: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(60));
const DEFAULT_CONCURRENCY: usize = 4;
const MAX_CONCURRENCY: usize = 64;

/// The plugins defined in `dir`, sorted by name.
pub fn load(dir: &Path) -> anyhow::Result<Vec<PluginSpec>> {
    let meta = std::fs::metadata(dir).with_context(|| format!("plugins.dir {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("plugins.dir {}: not a directory", dir.display());
    }
    refuse_world_writable(dir, &meta)?;
    let mut specs = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("plugins.dir {}", dir.display()))?;
    for entry in entries {
        let path = entry.with_context(|| format!("plugins.dir {}", dir.display()))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".toml")) else { continue };
        if name.starts_with('.') {
            continue;
        }
        if !valid_name(name) {
            bail!("{}: a plugin's name (its file name without .toml) is 1 to 32 of a-z, 0-9 and -", path.display());
        }
        let meta = std::fs::metadata(&path).with_context(|| path.display().to_string())?;
        refuse_world_writable(&path, &meta)?;
        let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
        specs.push(parse(name, &text).map_err(|(line, e)| anyhow!("{}:{line}: {e}", path.display()))?);
    }
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(specs)
}

/// Anyone who can write a definition can run code as the server.
fn refuse_world_writable(path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    if meta.permissions().mode() & 0o002 != 0 {
        bail!("{}: anyone may write it, and a plugin runs with the server's rights; chmod o-w it", path.display());
    }
    Ok(())
}

/// Parses one definition; errors carry their line.
fn parse(name: &str, text: &str) -> Result<PluginSpec, (usize, String)> {
    let line_of = |span: Option<std::ops::Range<usize>>| span.map_or(1, |r| text.as_bytes()[..r.start.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1);
    let doc = Document::parse(text).map_err(|e| (line_of(e.span()), e.message().trim().to_owned()))?;
    let mut spec = PluginSpec {
        name: name.to_owned(),
        command: Default::default(),
        args: Vec::new(),
        env: Vec::new(),
        timeout: DEFAULT_TIMEOUT,
        concurrency: DEFAULT_CONCURRENCY,
    };
    let mut command = false;
    for (key, item) in doc.as_table().iter() {
        let line = line_of(doc.as_table().key(key).and_then(|k| k.span()).or_else(|| item.span()));
        let fail = |m: String| (line, format!("{key}: {m}"));
        match key {
            "command" => {
                let c = string(item).ok_or_else(|| fail("expected a string".into()))?;
                let path = Path::new(c);
                if !path.is_absolute() {
                    return Err(fail(format!("{c:?} must be an absolute path")));
                }
                let meta = std::fs::metadata(path).map_err(|e| fail(format!("{c}: {e}")))?;
                if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
                    return Err(fail(format!("{c} is not an executable file")));
                }
                if meta.permissions().mode() & 0o002 != 0 {
                    return Err(fail(format!("{c}: anyone may write it; chmod o-w it")));
                }
                spec.command = path.to_owned();
                command = true;
            }
            "args" => {
                let Some(Value::Array(a)) = item.as_value() else { return Err(fail("expected a list of strings".into())) };
                spec.args = a.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<_>>().ok_or_else(|| fail("expected a list of strings".into()))?;
            }
            "env" => {
                let t = item.as_table_like().ok_or_else(|| fail("expected a table of strings".into()))?;
                for (k, v) in t.iter() {
                    let v = string(v).ok_or_else(|| fail(format!("{k}: expected a string")))?;
                    if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
                        return Err(fail(format!("{k:?} cannot be an environment variable")));
                    }
                    spec.env.push((k.to_owned(), v.to_owned()));
                }
            }
            "timeout" => {
                let t = string(item).and_then(|s| humantime::parse_duration(s).ok()).ok_or_else(|| fail("expected a duration like \"5s\"".into()))?;
                if t < TIMEOUTS.0 || t > TIMEOUTS.1 {
                    return Err(fail(format!("{t:?} is outside {:?} to {:?}", TIMEOUTS.0, TIMEOUTS.1)));
                }
                spec.timeout = t;
            }
            "concurrency" => {
                let n = item.as_integer().and_then(|n| usize::try_from(n).ok()).filter(|n| (1..=MAX_CONCURRENCY).contains(n));
                spec.concurrency = n.ok_or_else(|| fail(format!("expected a whole number from 1 to {MAX_CONCURRENCY}")))?;
            }
            other => return Err((line, format!("{other}: unknown key; expected command, args, env, timeout or concurrency"))),
        }
    }
    if !command {
        return Err((1, "command is missing: the absolute path of the plugin's executable".into()));
    }
    Ok(spec)
}

fn string(item: &Item) -> Option<&str> {
    item.as_value().and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_read_and_checked() {
        let s = parse("htpasswd", "command = \"/bin/sh\"\nargs = [\"-c\", \"x\"]\ntimeout = \"2s\"\nconcurrency = 2\n[env]\nA = \"b\"\n").unwrap();
        assert_eq!(s.command, Path::new("/bin/sh"));
        assert_eq!((s.args.len(), s.timeout, s.concurrency, s.env.clone()), (2, Duration::from_secs(2), 2, vec![("A".into(), "b".into())]));
        let d = parse("x", "command = \"/bin/sh\"").unwrap();
        assert_eq!((d.timeout, d.concurrency), (DEFAULT_TIMEOUT, DEFAULT_CONCURRENCY));
        for (bad, line, says) in [
            ("args = []", 1, "command is missing"),
            ("command = \"sh\"", 1, "absolute path"),
            ("command = \"/nonexistent/plugin\"", 1, "No such file"),
            ("command = \"/etc/passwd\"", 1, "not an executable"),
            ("command = \"/bin/sh\"\ntimeout = \"1h\"", 2, "outside"),
            ("command = \"/bin/sh\"\nconcurrency = 0", 2, "1 to 64"),
            ("command = \"/bin/sh\"\n\ncomand = 1", 3, "unknown key"),
            ("command = \"/bin/sh\"\nargs = [1]", 2, "list of strings"),
            ("command = [", 1, ""),
        ] {
            let (l, e) = parse("x", bad).unwrap_err();
            assert!(l == line && e.contains(says), "{bad}: {l}: {e}");
        }
    }
}
