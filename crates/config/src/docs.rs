//! The key table rendered as Markdown, so the configuration docs come from the same table.

use crate::schema::keys;

/// A Markdown table of every key: default, allowed values, environment variable, description.
pub fn keys_markdown() -> String {
    let mut out = String::from(
        "| Key | Default | Allowed | Environment variable | Description |\n|---|---|---|---|---|\n",
    );
    for k in keys() {
        let default = if k.default == "\"\"" {
            "unset".to_owned()
        } else {
            format!("`{}`", k.default)
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | `{}` | {} |\n",
            k.key,
            default,
            escape(&k.allowed()),
            k.env_var(),
            escape(k.help)
        ));
    }
    out
}

/// A `|` would end the table cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}
