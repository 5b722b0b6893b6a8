-- Secrets Deskward must keep in a usable form (the SMTP relay password, later directory bind
-- and helpdesk mail passwords). With encryption off a value is the clear text and key_id is
-- NULL; with it on, a value is sealed (core::secret) under the key key_id names. The key
-- itself lives in a key file, never here.
CREATE TABLE secrets (
    -- What the secret belongs to (like `mail.relay`) and which of its fields it is: both are
    -- bound into the seal, so a value moved onto another row does not open.
    owner TEXT NOT NULL,
    field TEXT NOT NULL,
    key_id TEXT,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (owner, field)
);

-- Every key that sealed secrets here: the active one (retired_at NULL, at most one) and the
-- retired ones, so a backup made under an older key names the key file it needs.
CREATE TABLE secret_keys (
    key_id TEXT PRIMARY KEY,
    -- A value sealed under the key (core::SecretKey::check_value): a file holding another key
    -- under this id does not open it.
    check_value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
