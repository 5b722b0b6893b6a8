//! Deskward's configuration: the settings and their defaults (each stated once, in the key
//! table), reading a TOML file, `DESKWARD_<SECTION>__<KEY>` environment overrides, and
//! reporting every problem at once with where it was found.

mod docs;
mod env;
mod errors;
mod file;
mod load;
mod schema;
mod settings;
mod suggest;

pub use docs::keys_markdown;
pub use env::{ENV_NOT_SETTINGS, ENV_NOT_SETTINGS_PREFIXES, ENV_PREFIX, is_non_setting_var};
pub use errors::{ConfigError, ConfigErrors, Origin};
pub use load::{Source, load, parse};
pub use schema::{KeyDoc, effective, keys};
pub use settings::{
    AuditSettings, DatabaseSettings, DirectorySettings, DnsSettings, GuardSettings, HttpSettings, LogFormat, LogSettings, MailSettings, NotifySettings, KerberosSettings, PasswordHashSettings, PluginSettings, DocumentSettings, ServerSettings, SessionSettings,
    Settings,
};
