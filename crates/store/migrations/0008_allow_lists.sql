-- A domain's allow-list: a login with the right password from outside it is held until the
-- account's owner confirms the address through a single-use link mailed to them; the address
-- is then trusted for that account for a while.
CREATE TABLE domain_allow_lists (
    domain_id BIGINT PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    -- Addresses and CIDR ranges, comma-separated, as core::net prints them.
    networks TEXT NOT NULL,
    admins_only BIGINT NOT NULL,
    -- NULL keeps the server's guard.address_trust_time.
    trust_seconds BIGINT
);

-- Stored under the SHA-256 of the link's token, like sessions.
CREATE TABLE address_verifications (
    token_hash TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The held client: an IPv4 address or an IPv6 /64.
    network TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX address_verifications_by_account ON address_verifications (account_id, network);

CREATE TABLE trusted_addresses (
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    network TEXT NOT NULL,
    until_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, network)
);
