-- Folders and documents (docs/documents.md). One table holds both kinds: a tree per domain
-- whose top-level items have parent_id 0. Content lives in files named by version id, never
-- by a user's name.
CREATE TABLE items (
    id BIGINT PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    parent_id BIGINT NOT NULL,
    -- Two items of one folder may not share a name key (NFKC, lowercased). At the top level
    -- names are per owner: scope is the owner's id there and 0 inside folders.
    scope BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('folder', 'document')),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    owner_id BIGINT NOT NULL,
    -- 0: this item breaks inheritance; its ancestors' grants do not apply here or below.
    inherit BIGINT NOT NULL DEFAULT 1,
    -- SHA-256 of the share link's token; the token is shown once, when it is made.
    link_hash TEXT UNIQUE,
    -- argon2id hash of the share password.
    share_password TEXT,
    -- Documents: the current version and its size.
    current_version BIGINT,
    size BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (domain_id, parent_id, scope, name_key)
);
CREATE INDEX items_parent ON items (parent_id);
CREATE INDEX items_owner ON items (owner_id, parent_id);

-- Who may do what on an item, inherited downwards (core/acl.rs). principal is 'account',
-- 'group', 'domain', 'all-domains', 'public' or 'password'; principal_id is the account or
-- group id, 0 for the others. rights is the bit set read 1, write 2, delete 4, share 8.
CREATE TABLE item_grants (
    item_id BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    principal TEXT NOT NULL,
    principal_id BIGINT NOT NULL,
    rights BIGINT NOT NULL,
    PRIMARY KEY (item_id, principal, principal_id)
);
CREATE INDEX item_grants_principal ON item_grants (principal, principal_id);

CREATE TABLE item_versions (
    id BIGINT PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    author_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (item_id, number)
);

-- What each account's documents use, charged to the documents' owner and checked against
-- the owner's class quotas in the transaction that changes it.
CREATE TABLE document_usage (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    bytes BIGINT NOT NULL DEFAULT 0,
    documents BIGINT NOT NULL DEFAULT 0
);

-- One row per domain that has items: every transaction that changes a domain's items updates
-- it first, so on PostgreSQL they run one after another as they do on SQLite (a folder cannot
-- be deleted while an upload into it commits, an item cannot move under a folder being
-- deleted).
CREATE TABLE item_locks (
    domain_id BIGINT PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    changes BIGINT NOT NULL
);
