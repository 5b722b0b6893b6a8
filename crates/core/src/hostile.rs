//! Recognises input that looks like a cross-site-scripting or SQL-injection attempt. Nothing
//! here makes input safe (templates escape, SQL is bound); it only names what an attacker
//! tried, for the security log. Matching runs on a normalised copy: percent-decoded (twice,
//! for double encoding), lowercased, with runs of whitespace and SQL comments folded to one
//! space.

/// What a pattern looks like, and its name in the security event.
const PATTERNS: &[(&str, &str)] = &[
    ("<script", "xss:script-tag"),
    ("javascript:", "xss:javascript-url"),
    ("vbscript:", "xss:vbscript-url"),
    ("onerror=", "xss:event-handler"),
    ("onload=", "xss:event-handler"),
    ("onmouseover=", "xss:event-handler"),
    ("onfocus=", "xss:event-handler"),
    ("<iframe", "xss:iframe"),
    ("<svg", "xss:svg"),
    ("<img", "xss:img-tag"),
    ("document.cookie", "xss:cookie-theft"),
    ("' or '1'='1", "sqli:tautology"),
    ("' or 1=1", "sqli:tautology"),
    ("\" or 1=1", "sqli:tautology"),
    (" or 1=1", "sqli:tautology"),
    ("' or ''='", "sqli:tautology"),
    ("union select", "sqli:union"),
    ("union all select", "sqli:union"),
    ("; drop table", "sqli:stacked-query"),
    ("; delete from", "sqli:stacked-query"),
    ("; insert into", "sqli:stacked-query"),
    ("; update ", "sqli:stacked-query"),
    ("'; --", "sqli:comment"),
    ("' --", "sqli:comment"),
    ("'--", "sqli:comment"),
    ("'#", "sqli:comment"),
    ("pg_sleep(", "sqli:time-delay"),
    ("sleep(", "sqli:time-delay"),
    ("waitfor delay", "sqli:time-delay"),
    ("benchmark(", "sqli:time-delay"),
    ("information_schema", "sqli:schema-probe"),
    ("sqlite_master", "sqli:schema-probe"),
    ("pg_catalog", "sqli:schema-probe"),
    ("xp_cmdshell", "sqli:command"),
];

/// Longest input inspected; the rest of a huge value is ignored.
const MAX_SCAN: usize = 16 * 1024;

/// The name of the first attack pattern `text` contains, if any.
pub fn scan(text: &str) -> Option<&'static str> {
    let cut = &text.as_bytes()[..text.len().min(MAX_SCAN)];
    // Cheap exit: every pattern holds one of these characters.
    if !cut.iter().any(|b| matches!(b, b'<' | b':' | b'=' | b'\'' | b'"' | b';' | b'(' | b'%' | b'_' | b' ' | b'+' | b'.' | b'#')) {
        return None;
    }
    let once = percent_decode(cut);
    let twice = percent_decode(&once);
    let text = normalise(&twice);
    PATTERNS.iter().find(|(p, _)| text.contains(p)).map(|(_, name)| *name)
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match s[i] {
            b'%' if i + 2 < s.len() => match (hex(s[i + 1]), hex(s[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(((h << 4) | l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Lowercase; whitespace runs and `/* … */` comments become one space.
fn normalise(s: &[u8]) -> String {
    let text = String::from_utf8_lossy(s).to_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let mut space = false;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("/*") {
            rest = rest.find("*/").map_or("", |end| &rest[end + 2..]);
            if !space {
                out.push(' ');
                space = true;
            }
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if c.is_whitespace() {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::scan;

    #[test]
    fn attacks_are_named() {
        assert_eq!(scan("<script>alert(1)</script>"), Some("xss:script-tag"));
        assert_eq!(scan("<ScRiPt src=//x>"), Some("xss:script-tag"));
        assert_eq!(scan("%3Cscript%3E"), Some("xss:script-tag"));
        assert_eq!(scan("%253Cscript%253E"), Some("xss:script-tag"));
        assert_eq!(scan("<img src=x onerror=alert(1)>"), Some("xss:event-handler"));
        assert_eq!(scan("JaVaScRiPt:alert(1)"), Some("xss:javascript-url"));
        assert_eq!(scan("admin' OR '1'='1"), Some("sqli:tautology"));
        assert_eq!(scan("x' or\t1=1 --"), Some("sqli:tautology"));
        assert_eq!(scan("1 UNION/**/SELECT password FROM accounts"), Some("sqli:union"));
        assert_eq!(scan("1+union+all+select+1"), Some("sqli:union"));
        assert_eq!(scan("x'; DROP TABLE accounts"), Some("sqli:stacked-query"));
        assert_eq!(scan("1; select pg_sleep(10)"), Some("sqli:time-delay"));
    }

    #[test]
    fn ordinary_input_is_not_flagged() {
        for ok in [
            "alice",
            "Sales team",
            "O'Brien",
            "https://example.com/help?topic=a%20b",
            "50% off",
            "The union of two sets",
            "select a plan",
            "user_classes",
            "x % y",
            "%",
            "%4",
            "trailing %",
        ] {
            assert_eq!(scan(ok), None, "{ok}");
        }
    }

    #[test]
    fn any_input_is_handled() {
        let mut s = String::new();
        for i in 0..70_000u32 {
            s.push(char::from_u32(i % 0xD7FF).unwrap_or('x'));
        }
        let _ = scan(&s);
        let _ = scan(&"%".repeat(100_000));
    }
}
