//! Names of folders and documents. Unlike account and domain names these are free Unicode,
//! because people name their files in their own language; what is refused is only what could
//! pass for a path, hide the name's text, or break a listing or a download header.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::name::NameError;

const KIND: &str = "name";

/// The most bytes (UTF-8, in the stored NFC form) a name may take: what common file systems
/// accept, so a downloaded file keeps its name.
pub const MAX_BYTES: usize = 255;

const ALLOWED: &str = "printable characters other than '/', '\\' and their look-alikes";

/// The name of a folder or document, as users see it. Names never reach a file system path
/// (content is stored by id), but they are shown in listings and in download headers, so
/// anything that could pass for a path, hide its text or break a header is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntryName(String);

/// Characters that are invisible or reorder text around them, so a name could show something
/// other than what it is ("invoice\u{202E}fdp.exe" shows as "invoiceexe.pdf"), or that break
/// a line: controls (category Cc, which includes NUL, newlines and DEL), zero-width and
/// bidirectional marks, embeddings, overrides and isolates, and the line and paragraph
/// separators.
fn hides_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Slashes and the characters that look like one, so a name never reads as a path.
fn is_slash(c: char) -> bool {
    matches!(
        c,
        '/' | '\\'
            | '\u{2044}' // fraction slash
            | '\u{2215}' // division slash
            | '\u{2216}' // set minus
            | '\u{2571}' // box drawings light diagonal upper right to lower left
            | '\u{2572}' // box drawings light diagonal upper left to lower right
            | '\u{29F8}' // big solidus
            | '\u{29F9}' // big reverse solidus
            | '\u{FE68}' // small reverse solidus
            | '\u{FF0F}' // fullwidth solidus
            | '\u{FF3C}' // fullwidth reverse solidus
    )
}

impl EntryName {
    /// Normalizes `value` to NFC and checks it; the NFC form is what is kept.
    pub fn parse(value: &str) -> Result<EntryName, NameError> {
        let value: String = value.nfc().collect();
        let shape = |why: &'static str, value: String| Err(NameError::BadShape { kind: KIND, value, why });
        if value.is_empty() {
            return Err(NameError::Empty { kind: KIND });
        }
        if value.len() > MAX_BYTES {
            return shape("is longer than 255 bytes in UTF-8", value);
        }
        if let Some(found) = value.chars().find(|c| hides_text(*c) || is_slash(*c)) {
            return Err(NameError::BadChar { kind: KIND, value, found, allowed: ALLOWED });
        }
        if value == "." || value == ".." {
            return shape("is reserved: '.' and '..' stand for folders", value);
        }
        // Compatibility forms can turn into dots or slashes ("\u{2025}" is "..", "\u{2100}" is
        // "a/c"); whatever reads as a path once normalized is refused too.
        let compatible: String = value.nfkc().collect();
        if compatible == "." || compatible == ".." || compatible.contains(['/', '\\']) {
            return shape("reads as '.', '..' or a path once normalized (NFKC)", value);
        }
        if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
            return shape("starts or ends with a space", value);
        }
        Ok(EntryName(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key two names of one folder must not share: NFKC, then lowercased. "Report.pdf"
    /// and "REPORT.pdf" and "Ｒeport.pdf" collide.
    pub fn key(&self) -> String {
        self.0.nfkc().collect::<String>().to_lowercase()
    }
}

impl fmt::Display for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_normalization::is_nfc;

    fn refused(raw: &str) -> NameError {
        match EntryName::parse(raw) {
            Ok(name) => unreachable!("{raw:?} was accepted as {name:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn ordinary_names_are_kept() {
        for raw in [
            "Résumé 2026.pdf",
            "报告.docx",
            "a b",
            ".profile",
            "a..b",
            "..hidden",
            "...",
            "notes.",
            "½ cup.txt",
            "ﬁle",
            "A",
            "Ǆ ß İ",
        ] {
            let name = EntryName::parse(raw).unwrap();
            assert_eq!(name.as_str(), raw);
            assert_eq!(name.to_string(), raw);
        }
    }

    #[test]
    fn names_are_stored_as_nfc() {
        let decomposed = "Re\u{301}sume\u{301}.pdf";
        let name = EntryName::parse(decomposed).unwrap();
        assert_eq!(name.as_str(), "Résumé.pdf");
        assert_eq!(name, EntryName::parse("Résumé.pdf").unwrap());
    }

    #[test]
    fn empty_names_are_refused() {
        assert_eq!(refused(""), NameError::Empty { kind: "name" });
        assert_eq!(refused("").to_string(), "name is empty");
    }

    #[test]
    fn names_longer_than_255_bytes_are_refused() {
        assert!(EntryName::parse(&"a".repeat(255)).is_ok());
        let err = refused(&"a".repeat(256));
        assert!(matches!(err, NameError::BadShape { .. }), "{err:?}");
        assert!(err.to_string().contains("longer than 255 bytes"), "{err}");
        // 128 two-byte characters: 128 characters, 256 bytes.
        assert!(refused(&"é".repeat(128)).to_string().contains("255 bytes"));
        // The stored NFC form counts, not the input: 300 bytes decomposed, 200 composed.
        assert_eq!(EntryName::parse(&"e\u{301}".repeat(100)).unwrap().as_str().len(), 200);
    }

    #[test]
    fn controls_and_invisible_marks_are_refused() {
        for c in [
            '\0', '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}', '\u{61c}', '\u{200b}', '\u{200c}',
            '\u{200d}', '\u{200e}', '\u{200f}', '\u{2028}', '\u{2029}', '\u{202a}', '\u{202b}', '\u{202c}',
            '\u{202d}', '\u{202e}', '\u{2060}', '\u{2061}', '\u{2062}', '\u{2063}', '\u{2064}', '\u{2066}',
            '\u{2067}', '\u{2068}', '\u{2069}', '\u{feff}',
        ] {
            let raw = format!("invoice{c}fdp.exe");
            assert_eq!(
                refused(&raw),
                NameError::BadChar { kind: "name", value: raw.clone(), found: c, allowed: ALLOWED },
                "{c:?}"
            );
        }
        let err = refused("a\nb").to_string();
        assert!(err.contains("\"a\\nb\"") && err.contains("'\\n'"), "{err}");
    }

    #[test]
    fn slashes_and_look_alikes_are_refused() {
        for c in [
            '/', '\\', '\u{2215}', '\u{2044}', '\u{29f8}', '\u{29f9}', '\u{ff0f}', '\u{ff3c}', '\u{fe68}', '\u{2216}',
            '\u{2571}', '\u{2572}',
        ] {
            let raw = format!("a{c}b");
            assert!(matches!(refused(&raw), NameError::BadChar { found, .. } if found == c), "{c:?}");
        }
        assert!(refused("../etc").to_string().contains("contains '/'"));
    }

    #[test]
    fn dot_names_are_refused() {
        for raw in [".", ".."] {
            let err = refused(raw);
            assert!(matches!(err, NameError::BadShape { .. }), "{raw:?}: {err:?}");
            assert!(err.to_string().contains("'.' and '..'"), "{err}");
        }
    }

    #[test]
    fn names_that_normalize_to_a_path_are_refused() {
        // Two-dot leader, one-dot leader, a dot and a one-dot leader, "a/c", "c/o".
        for raw in ["\u{2025}", "\u{2024}", ".\u{2024}", "\u{2024}\u{2024}", "\u{2100}", "care \u{2105} me"] {
            let err = refused(raw);
            assert!(matches!(err, NameError::BadShape { .. }), "{raw:?}: {err:?}");
            assert!(err.to_string().contains("NFKC"), "{err}");
        }
        assert!(EntryName::parse("\u{2026}").is_ok(), "an ellipsis is three dots, not a folder");
    }

    #[test]
    fn leading_and_trailing_spaces_are_refused() {
        for raw in [" a", "a ", " ", "\u{a0}a", "a\u{3000}", "\u{2003}"] {
            let err = refused(raw);
            assert_eq!(
                err,
                NameError::BadShape { kind: "name", value: raw.to_owned(), why: "starts or ends with a space" },
                "{raw:?}"
            );
        }
    }

    #[test]
    fn keys_collide_across_case_and_width() {
        let key = |raw: &str| EntryName::parse(raw).unwrap().key();
        assert_eq!(key("Report.pdf"), "report.pdf");
        assert_eq!(key("REPORT.pdf"), "report.pdf");
        assert_eq!(key("Ｒeport.pdf"), "report.pdf");
        assert_eq!(key("ﬁle"), key("FILE"));
        assert_eq!(key("Re\u{301}sume\u{301}"), key("RÉSUMÉ"));
        assert_ne!(key("report.pdf"), key("report.pdf.txt"));
    }

    const TRICKY: &[char] = &[
        '.', '.', '/', '\\', ' ', 'a', 'A', 'é', 'e', '\u{301}', '\u{2024}', '\u{2025}', '\u{2044}', '\u{2100}',
        '\u{202e}', '\u{200b}', '\u{a0}', '\u{ff0f}', '\u{ff21}', '\u{fb01}', '\u{0}', '\n', '\u{1100}', '\u{1161}',
    ];

    fn tricky_string() -> impl Strategy<Value = String> {
        let c = prop_oneof![any::<char>(), prop::sample::select(TRICKY)];
        prop::collection::vec(c, 0..40).prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        // Untrusted input: any string is either refused or kept in a form that passes every
        // rule again unchanged; nothing panics.
        #[test]
        fn accepted_names_are_clean_and_stable(
            raw in prop_oneof![tricky_string(), any::<String>(), "\\PC{0,300}"],
        ) {
            if let Ok(name) = EntryName::parse(&raw) {
                let text = name.as_str();
                prop_assert!(!text.is_empty() && text.len() <= MAX_BYTES);
                prop_assert!(!text.chars().any(|c| c.is_control() || hides_text(c) || is_slash(c)), "{:?}", text);
                prop_assert!(is_nfc(text));
                prop_assert!(text != "." && text != "..");
                prop_assert!(!text.starts_with(char::is_whitespace) && !text.ends_with(char::is_whitespace));
                let compatible: String = text.nfkc().collect();
                prop_assert!(!compatible.contains(['/', '\\']) && compatible != "." && compatible != "..");
                prop_assert_eq!(EntryName::parse(text), Ok(name.clone()));
                let _ = name.key();
            }
        }
    }
}
