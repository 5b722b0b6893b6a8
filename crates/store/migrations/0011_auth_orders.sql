-- The back ends that check a domain's logins, in order (docs/plugins.md): 'local',
-- 'directory' or 'plugin:<name>', one per line. No row: local, then the directory if any.
CREATE TABLE auth_orders (
    domain_id BIGINT PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    backends TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The authentication plugin that made the account at its first login, and the account's
-- stable id there; both NULL for other accounts. The plugin alone checks its password.
ALTER TABLE accounts ADD COLUMN auth_plugin TEXT;
ALTER TABLE accounts ADD COLUMN auth_plugin_id TEXT;
