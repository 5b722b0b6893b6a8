//! Validated names: domains, accounts, logins (`name@domain`), groups and user classes.
//! Names are ASCII and lowercased so that look-alike Unicode cannot create a second "admin".

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} {value:?} is longer than {max} characters")]
    TooLong { kind: &'static str, value: String, max: usize },
    #[error("{kind} {value:?} contains {found:?}; allowed are {allowed}")]
    BadChar { kind: &'static str, value: String, found: char, allowed: &'static str },
    #[error("{kind} {value:?} {why}")]
    BadShape { kind: &'static str, value: String, why: &'static str },
}

/// A hosted domain such as `example.org`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

/// The local part of a login, such as `alice`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountName(String);

/// A group or user class name, unique within its domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectName(String);

/// `name@domain`, the way every account is addressed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Login {
    pub name: AccountName,
    pub domain: DomainName,
}

const DOMAIN_ALLOWED: &str = "a-z, 0-9, '-' and '.'";
const NAME_ALLOWED: &str = "a-z, 0-9, '.', '_' and '-'";

fn check_chars(
    kind: &'static str,
    value: &str,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<(), NameError> {
    match value.chars().find(|c| !ok(*c)) {
        Some(found) => Err(NameError::BadChar { kind, value: value.to_owned(), found, allowed }),
        None => Ok(()),
    }
}

fn check_len(kind: &'static str, value: &str, max: usize) -> Result<(), NameError> {
    if value.is_empty() {
        return Err(NameError::Empty { kind });
    }
    if value.chars().count() > max {
        return Err(NameError::TooLong { kind, value: value.to_owned(), max });
    }
    Ok(())
}

impl DomainName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        const KIND: &str = "domain name";
        let value = raw.trim().to_ascii_lowercase();
        check_len(KIND, &value, 253)?;
        check_chars(KIND, &value, DOMAIN_ALLOWED, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
        })?;
        for label in value.split('.') {
            let why = if label.is_empty() {
                Some("has an empty label (two dots, or a dot at either end)")
            } else if label.len() > 63 {
                Some("has a label longer than 63 characters")
            } else if label.starts_with('-') || label.ends_with('-') {
                Some("has a label that starts or ends with '-'")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(NameError::BadShape { kind: KIND, value, why });
            }
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn parse_simple_name(kind: &'static str, raw: &str) -> Result<String, NameError> {
    let value = raw.trim().to_ascii_lowercase();
    check_len(kind, &value, 64)?;
    check_chars(kind, &value, NAME_ALLOWED, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
    })?;
    if value.starts_with('.') || value.ends_with('.') || value.contains("..") {
        return Err(NameError::BadShape {
            kind,
            value,
            why: "may not start or end with '.' or contain '..'",
        });
    }
    Ok(value)
}

impl AccountName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        parse_simple_name("account name", raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ObjectName {
    pub fn parse(kind: &'static str, raw: &str) -> Result<Self, NameError> {
        parse_simple_name(kind, raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An address Deskward mails an account at (notifications, verification links): a plain
/// `local@domain`, ASCII only, never a display name or a list, so it cannot smuggle a second
/// recipient or a header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

const LOCAL_ALLOWED: &str = "letters, digits and . ! # $ % & ' * + / = ? ^ _ ` { | } ~ -";

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        const KIND: &str = "email address";
        let raw = raw.trim();
        check_len(KIND, raw, 254)?;
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return Err(NameError::BadShape { kind: KIND, value: raw.to_owned(), why: "must look like name@example.org" });
        };
        check_len(KIND, local, 64)?;
        check_chars(KIND, local, LOCAL_ALLOWED, |c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c))?;
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(NameError::BadShape { kind: KIND, value: raw.to_owned(), why: "may not start or end with '.' or contain '..' before the '@'" });
        }
        let domain = DomainName::parse(domain)?;
        if !domain.as_str().contains('.') && domain.as_str() != "localhost" {
            return Err(NameError::BadShape { kind: KIND, value: raw.to_owned(), why: "needs a domain with a dot, like example.org" });
        }
        Ok(Self(format!("{local}@{}", domain.as_str())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Login {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let raw = raw.trim();
        let Some((name, domain)) = raw.rsplit_once('@') else {
            return Err(NameError::BadShape {
                kind: "login",
                value: raw.to_owned(),
                why: "must look like name@domain",
            });
        };
        Ok(Self { name: AccountName::parse(name)?, domain: DomainName::parse(domain)? })
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_single_plain_addresses() {
        assert_eq!(EmailAddress::parse(" Alice.B+desk@Example.ORG ").unwrap().as_str(), "Alice.B+desk@example.org");
        assert_eq!(EmailAddress::parse("root@localhost").unwrap().as_str(), "root@localhost");
        for bad in [
            "", "alice", "@example.org", "alice@", "alice@example", "a b@example.org", "alice@example.org, eve@evil.example",
            "Alice <alice@example.org>", "alice@example.org\r\nBcc: eve@evil.example", ".alice@example.org", "al..ice@example.org",
            "alice@exa_mple.org", "\u{0430}lice@example.org", "alice\0@example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(EmailAddress::parse(&format!("{}@example.org", "a".repeat(65))).is_err());
    }

    #[test]
    fn logins_are_lowercased_and_split_at_the_last_at() {
        let login = Login::parse(" Alice@Example.ORG ").unwrap();
        assert_eq!(login.to_string(), "alice@example.org");
    }

    #[test]
    fn bad_names_say_what_is_wrong() {
        let cases = [
            ("alice", "must look like name@domain"),
            ("@example.org", "account name is empty"),
            ("al ice@example.org", "contains ' '"),
            ("../x@example.org", "contains '/'"),
            ("a\0b@example.org", "contains '\\0'"),
            ("аlice@example.org", "contains 'а'"), // Cyrillic a
            ("alice@exa..mple.org", "empty label"),
            ("alice@-example.org", "starts or ends with '-'"),
            (".alice@example.org", "may not start or end with '.'"),
        ];
        for (input, expected) in cases {
            let err = Login::parse(input).unwrap_err().to_string();
            assert!(err.contains(expected), "{input:?}: {err:?} lacks {expected:?}");
        }
        let long = format!("{}@example.org", "a".repeat(65));
        assert!(Login::parse(&long).unwrap_err().to_string().contains("longer than 64"));
    }

    proptest::proptest! {
        // Untrusted input: any string either parses to a canonical login or is refused, never panics.
        #[test]
        fn any_input_parses_or_is_refused(raw in "\\PC{0,80}|[a-zA-Z0-9@._-]{0,80}") {
            if let Ok(login) = Login::parse(&raw) {
                let text = login.to_string();
                proptest::prop_assert!(text.is_ascii() && text == text.to_ascii_lowercase());
                proptest::prop_assert_eq!(Login::parse(&text).unwrap(), login);
            }
        }
    }
}
