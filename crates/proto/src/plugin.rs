//! The authentication plugin protocol, version 1: JSON lines over the plugin's stdin and
//! stdout (docs/plugins.md). Deskward speaks first with [`Hello`]; the plugin answers with
//! its [`Hello`], then Deskward sends [`Request`]s and the plugin answers each with a
//! [`Reply`] carrying the request's id, in any order.
//!
//! [`serve`] is the plugin side's loop, for plugins written in Rust.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

/// The versions this build speaks.
pub const VERSIONS: &[u32] = &[1];

/// The longest line either side may send, newline included.
pub const MAX_LINE: usize = 64 * 1024;

/// The first line each side sends. Deskward offers `versions`; the plugin picks one in
/// `version`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename = "hello")]
pub struct Hello {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// A question from Deskward.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Is `password` right for `user` of `domain`? `user` is the part before the `@`.
    Authenticate { id: u64, domain: String, user: String, password: String },
}

/// A plugin's answer to the request with the same `id`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename = "reply")]
pub struct Reply {
    pub id: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The password is right.
    Accepted { user: User },
    /// The user exists and the password is wrong.
    Rejected,
    /// The back end has no such user.
    Unknown,
    /// The user exists and is switched off in the back end (say so only after the password
    /// was right).
    Disabled,
    /// The back end cannot answer now (its database is down, …); the login fails closed.
    Error { message: String },
}

/// What the back end knows of an accepted user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    /// A stable identity in the back end: the account it made stays bound to it, and a
    /// different id under the same name is refused.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Runs a plugin over stdin and stdout: answers the hello, then each request in turn with
/// `check`. Returns when Deskward closes stdin; an unreadable line ends the loop with an error.
pub fn serve<F>(check: F) -> std::io::Result<()>
where
    F: FnMut(&str, &str, &str) -> Outcome,
{
    let stdin = std::io::stdin();
    serve_on(stdin.lock(), std::io::stdout().lock(), check)
}

fn serve_on<R: BufRead, W: Write, F>(mut input: R, mut output: W, mut check: F) -> std::io::Result<()>
where
    F: FnMut(&str, &str, &str) -> Outcome,
{
    let bad = |e: serde_json::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let hello: Hello = serde_json::from_str(&line).map_err(bad)?;
    let version = hello.versions.iter().copied().filter(|v| VERSIONS.contains(v)).max();
    let Some(version) = version else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "Deskward offers no version this plugin speaks"));
    };
    writeln!(output, "{}", serde_json::to_string(&Hello { versions: Vec::new(), version: Some(version) }).map_err(bad)?)?;
    output.flush()?;
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let Request::Authenticate { id, domain, user, password } = serde_json::from_str(&line).map_err(bad)?;
        line.clear();
        let outcome = check(&domain, &user, &password);
        writeln!(output, "{}", serde_json::to_string(&Reply { id, outcome }).map_err(bad)?)?;
        output.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_format_is_the_documented_one() {
        let r = Request::Authenticate { id: 7, domain: "example.org".into(), user: "alice".into(), password: "pw".into() };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"type":"authenticate","id":7,"domain":"example.org","user":"alice","password":"pw"}"#
        );
        let ok = Reply { id: 7, outcome: Outcome::Accepted { user: User { id: "u1".into(), mail: Some("a@example.org".into()), name: None } } };
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"type":"reply","id":7,"outcome":"accepted","user":{"id":"u1","mail":"a@example.org"}}"#
        );
        let no: Reply = serde_json::from_str(r#"{"type":"reply","id":8,"outcome":"rejected"}"#).unwrap();
        assert_eq!(no, Reply { id: 8, outcome: Outcome::Rejected });
        assert_eq!(serde_json::to_string(&Hello { versions: vec![1], version: None }).unwrap(), r#"{"type":"hello","versions":[1]}"#);
    }

    #[test]
    fn serve_answers_the_hello_and_each_request() {
        let input = concat!(
            r#"{"type":"hello","versions":[1,2]}"#, "\n",
            r#"{"type":"authenticate","id":1,"domain":"d","user":"alice","password":"right"}"#, "\n",
            r#"{"type":"authenticate","id":2,"domain":"d","user":"alice","password":"wrong"}"#, "\n",
        );
        let mut out = Vec::new();
        serve_on(input.as_bytes(), &mut out, |_, user, pw| match pw {
            "right" => Outcome::Accepted { user: User { id: user.into(), ..User::default() } },
            _ => Outcome::Rejected,
        })
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines, [
            r#"{"type":"hello","version":1}"#,
            r#"{"type":"reply","id":1,"outcome":"accepted","user":{"id":"alice"}}"#,
            r#"{"type":"reply","id":2,"outcome":"rejected"}"#,
        ]);
        assert!(serve_on(r#"{"type":"hello","versions":[9]}"#.as_bytes(), Vec::new(), |_, _, _| Outcome::Unknown).is_err());
    }
}
