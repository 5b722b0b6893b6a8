//! Environment overrides: `DESKWARD_<SECTION>__<KEY>` sets `section.key`, after the file.

use crate::errors::Origin;
use crate::load::Builder;
use crate::schema::{self, Raw};
use crate::suggest;

/// Prefix of every variable this crate looks at.
pub const ENV_PREFIX: &str = "DESKWARD_";

/// `DESKWARD_` variables that are not settings (read by the binary or by tests), so they are
/// not reported as unknown.
pub const ENV_NOT_SETTINGS: &[&str] = &["DESKWARD_CONFIG", "DESKWARD_DATA_DIR", "DESKWARD_LOG"];

/// Prefixes of `DESKWARD_` variables that are not settings.
pub const ENV_NOT_SETTINGS_PREFIXES: &[&str] = &["DESKWARD_TEST_", "DESKWARD_REQUIRE_"];

/// Whether `var` is one of the allowed `DESKWARD_` variables that are not settings.
pub fn is_non_setting_var(var: &str) -> bool {
    ENV_NOT_SETTINGS.contains(&var) || ENV_NOT_SETTINGS_PREFIXES.iter().any(|p| var.starts_with(p))
}

pub(crate) fn read(b: &mut Builder, env: impl IntoIterator<Item = (String, String)>) {
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX) && !is_non_setting_var(name))
        .collect();
    // The process environment has no order; sorting keeps the error list stable.
    vars.sort();
    for (var, value) in vars {
        match schema::keys().iter().find(|k| k.env_var() == var) {
            Some(doc) => b.set(doc, Raw::Env(&value), Origin::Env { var }),
            None => {
                let (key, message) = unknown(&var);
                b.error(Origin::Env { var }, key, message);
            }
        }
    }
}

/// The dotted key a variable seems to mean, and the message for it.
fn unknown(var: &str) -> (String, String) {
    let rest = var
        .strip_prefix(ENV_PREFIX)
        .unwrap_or(var)
        .to_ascii_lowercase();
    let (key, hint) = match rest.split_once("__") {
        Some((section, leaf)) => (
            format!("{section}.{leaf}"),
            suggest::key(Some(section), leaf),
        ),
        None => (rest.clone(), suggest::key(None, &rest)),
    };
    if let Some(why) = schema::moved(&key) {
        return (key, why.to_owned());
    }
    let message = match hint {
        Some(k) => format!("unknown key; did you mean `{}`?", k.env_var()),
        None => "unknown key; setting variables are named like DESKWARD_HTTP__LISTEN".into(),
    };
    (key, message)
}
