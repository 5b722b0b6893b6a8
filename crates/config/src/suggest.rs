//! "did you mean …?" hints for misspelt sections, keys and environment variables.

use crate::schema::{self, KeyDoc};

/// The candidate closest to `input`, if it is close enough to be a likely typo.
fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input = input.to_ascii_lowercase();
    let mut best: Option<(usize, f64, &'a str)> = None;
    for c in candidates {
        let lev = strsim::levenshtein(&input, c);
        let jw = strsim::jaro_winkler(&input, c);
        // Levenshtein catches short typos; Jaro-Winkler catches longer names sharing a prefix,
        // but only when at most half the longer name must change (else "frobnicate" → "format").
        let half = input.chars().count().max(c.chars().count()) / 2;
        if lev > 2 && (jw < 0.85 || lev > half) {
            continue;
        }
        let better = match best {
            None => true,
            Some((bl, bj, _)) => lev < bl || (lev == bl && jw > bj),
        };
        if better {
            best = Some((lev, jw, c));
        }
    }
    best.map(|(_, _, c)| c)
}

/// A known section close to `name`.
pub(crate) fn section(name: &str) -> Option<&'static str> {
    closest(name, schema::sections())
}

/// The known key most likely meant by `leaf` (in `section`, if one was given).
pub(crate) fn key(section: Option<&str>, leaf: &str) -> Option<&'static KeyDoc> {
    let keys = schema::keys();
    match section {
        Some(sec) => {
            let known = schema::sections().into_iter().find(|s| *s == sec);
            if let Some(hit) = known
                .or_else(|| self::section(sec))
                .and_then(|s| in_section(s, leaf))
            {
                return Some(hit);
            }
        }
        None => {
            // `section_key` written without the separator, e.g. DESKWARD_HTTP_LISTEN.
            let split = schema::sections().into_iter().find_map(|s| {
                leaf.strip_prefix(s)
                    .and_then(|r| r.strip_prefix(['_', '.']))
                    .map(|r| (s, r))
            });
            if let Some(hit) = split.and_then(|(s, rest)| in_section(s, rest)) {
                return Some(hit);
            }
        }
    }
    // The right name in the wrong section (or at the top level).
    let name = closest(leaf, keys.iter().map(|k| k.name()))?;
    keys.iter().find(|k| k.name() == name)
}

fn in_section(section: &str, leaf: &str) -> Option<&'static KeyDoc> {
    let keys = schema::keys();
    let name = closest(
        leaf,
        keys.iter()
            .filter(|k| k.section() == section)
            .map(|k| k.name()),
    )?;
    keys.iter()
        .find(|k| k.section() == section && k.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(section: Option<&str>, leaf: &str) -> Option<&'static str> {
        key(section, leaf).map(|k| k.key)
    }

    #[test]
    fn hints() {
        assert_eq!(k(Some("http"), "lisen"), Some("http.listen"));
        assert_eq!(
            k(Some("http"), "max_body_size"),
            Some("http.max_body_bytes")
        );
        assert_eq!(k(Some("server"), "listen"), Some("http.listen"));
        assert_eq!(k(None, "listen"), Some("http.listen"));
        assert_eq!(k(Some("htp"), "listen"), Some("http.listen"));
        assert_eq!(k(None, "http_listen"), Some("http.listen"));
        assert_eq!(k(None, "http.listen"), Some("http.listen"));
        assert_eq!(
            k(None, "password_hash_memory"),
            Some("password_hash.memory_kib")
        );
        assert_eq!(k(None, "log_frobnicate"), None);
        assert_eq!(k(Some("http"), "zzz"), None);
        assert_eq!(section("htp"), Some("http"));
        assert_eq!(section("password"), Some("password_hash"));
        assert_eq!(section("frobnicate"), None);
        assert_eq!(k(Some("log"), "frobnicate"), None);
    }
}
