//! Reading the TOML file: every key is checked against the key table and every problem is
//! recorded with its line and column.

use std::ops::Range;
use std::path::Path;

use toml_edit::{Item, Key, Value};

use crate::errors::{Origin, line_column, tidy};
use crate::load::Builder;
use crate::schema::{self, Raw};
use crate::suggest;

pub(crate) fn read(b: &mut Builder, path: &Path, text: &str) {
    let at = |span: Option<Range<usize>>| {
        let (line, column) = line_column(text, span.map_or(0, |r| r.start));
        Origin::File {
            path: path.to_owned(),
            line,
            column,
        }
    };
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let message = tidy(e.message());
            let message = if message.is_empty() {
                "invalid toml".to_owned()
            } else {
                message
            };
            b.error(at(e.span()), "", message);
            return;
        }
    };
    let sections = schema::sections();
    for (key, item) in entries(doc.as_item()).unwrap_or_default() {
        let name = key.get();
        let origin = at(key.span().or_else(|| item.span()));
        if sections.contains(&name) {
            read_section(b, name, item, &at, origin);
        } else if entries(item).is_some() {
            let hint = match suggest::section(name) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("expected one of {}", sections.join(", ")),
            };
            b.error(origin, name, format!("unknown section; {hint}"));
        } else {
            b.error(origin, name, unknown_key(None, name));
        }
    }
}

fn read_section(
    b: &mut Builder,
    section: &str,
    item: &Item,
    at: &dyn Fn(Option<Range<usize>>) -> Origin,
    origin: Origin,
) {
    let Some(entries) = entries(item) else {
        b.error(
            origin,
            section,
            format!("expected a table, found {}", item.type_name()),
        );
        return;
    };
    for (key, item) in entries {
        let dotted = format!("{section}.{}", key.get());
        let Some(doc) = schema::find(&dotted) else {
            b.error(
                at(key.span().or_else(|| item.span())),
                dotted,
                unknown_key(Some(section), key.get()),
            );
            continue;
        };
        let raw = match item {
            Item::Value(v) => Raw::from_toml(v),
            other => Raw::Other(other.type_name()),
        };
        // Value problems point at the value, where the fix goes.
        b.set(doc, raw, at(item.span().or_else(|| key.span())));
    }
}

/// The keys and items of a table or inline table, with their spans; `None` for other items.
fn entries(item: &Item) -> Option<Vec<(&Key, &Item)>> {
    match item {
        Item::Table(t) => Some(
            t.iter()
                .filter_map(|(name, _)| t.get_key_value(name))
                .collect(),
        ),
        Item::Value(Value::InlineTable(t)) => Some(
            t.iter()
                .filter_map(|(name, _)| t.get_key_value(name))
                .collect(),
        ),
        _ => None,
    }
}

fn unknown_key(section: Option<&str>, leaf: &str) -> String {
    if let Some(why) = section.and_then(|s| schema::moved(&format!("{s}.{leaf}"))) {
        return why.to_owned();
    }
    match suggest::key(section, leaf) {
        Some(k) => format!("unknown key; did you mean `{}`?", k.key),
        None => "unknown key".into(),
    }
}
