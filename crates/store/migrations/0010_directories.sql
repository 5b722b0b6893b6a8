-- A domain's LDAP or Active Directory connection (docs/directory.md). Its bind password is a
-- stored secret (owner `directory:<domain>`), never a column here.
CREATE TABLE directories (
    domain_id BIGINT PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    -- 'ldaps', 'starttls', or 'plain' (chosen explicitly; no transport security).
    security TEXT NOT NULL CHECK (security IN ('ldaps', 'starttls', 'plain')),
    preset TEXT NOT NULL CHECK (preset IN ('openldap', 'active-directory')),
    -- Empty: search anonymously.
    bind_dn TEXT NOT NULL,
    -- One or more search bases, one per line, searched in order.
    base_dns TEXT NOT NULL,
    -- With {user}, {domain} and {login} replaced by the escaped parts of the login.
    user_filter TEXT NOT NULL,
    -- The attribute that holds the name part of a login (uid, sAMAccountName), for syncs.
    login_attribute TEXT NOT NULL,
    mail_attribute TEXT NOT NULL,
    name_attribute TEXT NOT NULL,
    group_attribute TEXT NOT NULL,
    -- The class of accounts made at a first login; NULL leaves them without one.
    new_account_class_id BIGINT REFERENCES user_classes (id) ON DELETE SET NULL,
    -- PEM certificates trusted for the directory's TLS; NULL trusts the system's roots.
    ca_certificate TEXT,
    timeout_ms BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- When the last sync finished; NULL before the first.
    last_sync_at BIGINT
);

-- Directory groups whose members are kept in a Deskward group: at each directory login and
-- sync, the group's directory accounts become exactly the entries that are members.
CREATE TABLE directory_groups (
    domain_id BIGINT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    directory_group TEXT NOT NULL,
    group_id BIGINT NOT NULL REFERENCES account_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (domain_id, directory_group, group_id)
);

-- The directory entry an account authenticates against; NULL for a local account.
ALTER TABLE accounts ADD COLUMN directory_dn TEXT;
-- 1 when a sync blocked the account because its entry was removed or disabled in the
-- directory (it is then also disabled); only such a block is lifted by the directory.
ALTER TABLE accounts ADD COLUMN directory_blocked BIGINT NOT NULL DEFAULT 0;
