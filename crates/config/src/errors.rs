//! Configuration errors: where each problem was found and what it is, all reported together.

use std::fmt;
use std::path::PathBuf;

/// Where a bad setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A position in the TOML file; line and column are 1-based, the column counts characters.
    File {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    /// An environment variable.
    Env { var: String },
    /// A file that could not be read.
    Io { path: PathBuf },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, column } => write!(f, "{}:{line}:{column}", path.display()),
            Origin::Env { var } => write!(f, "environment {var}"),
            Origin::Io { path } => write!(f, "{}", path.display()),
        }
    }
}

/// One problem, shown as `origin: key: message` (the key part is left out when there is none,
/// as for a TOML syntax error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {}{message}", key_prefix(.key))]
pub struct ConfigError {
    pub origin: Origin,
    /// Dotted key such as `http.listen`; empty when the problem is not about one key.
    pub key: String,
    /// Lowercase, no trailing period.
    pub message: String,
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

/// Every problem found, in file order then environment order; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    /// One error per line, no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// 1-based line and column (in characters) of a byte offset; offsets past the end or inside a
/// character are clamped so a bad span can never panic.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = text.get(..end).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// Messages from other libraries in this crate's style: lowercase start, no trailing period.
pub(crate) fn tidy(message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_is_one_based_and_counts_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        let eq = text.rfind('=').unwrap_or(0);
        assert_eq!(line_column(text, eq), (2, 4));
        assert_eq!(line_column(text, 999), (3, 1));
        // Inside the two-byte 'é': clamped back to its start.
        assert_eq!(line_column(text, 8), (2, 2));
    }

    #[test]
    fn display_with_and_without_key() {
        let e = ConfigError {
            origin: Origin::Env {
                var: "DESKWARD_HTTP__LISTEN".into(),
            },
            key: "http.listen".into(),
            message: "invalid socket address \"foo\"".into(),
        };
        assert_eq!(
            e.to_string(),
            "environment DESKWARD_HTTP__LISTEN: http.listen: invalid socket address \"foo\""
        );
        let e = ConfigError {
            origin: Origin::File {
                path: "deskward.toml".into(),
                line: 2,
                column: 5,
            },
            key: String::new(),
            message: "invalid key".into(),
        };
        assert_eq!(e.to_string(), "deskward.toml:2:5: invalid key");
    }
}
