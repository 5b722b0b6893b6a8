-- The audit log: one hash chain per domain (by name, so records outlive a removed domain) and
-- one for events outside any domain ('_system'). Records are written in the transaction of
-- the change they describe.

-- A chain's head: the last record's position and hash. Appending takes this row's write lock,
-- so concurrent changes in one domain queue for their place in the chain.
CREATE TABLE audit_chains (
    chain TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    -- the last record's UTC day and how many records that day has
    day TEXT NOT NULL,
    day_records BIGINT NOT NULL,
    -- records up to archived_seq were archived to files and removed; archived_hash is the
    -- last one's hash, where the chain in the store resumes
    archived_seq BIGINT NOT NULL DEFAULT 0,
    archived_hash TEXT NOT NULL,
    -- records up to forwarded_seq were sent to syslog
    forwarded_seq BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE audit_records (
    chain TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    day TEXT NOT NULL,
    security BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    source_ip TEXT NOT NULL,
    source_host TEXT NOT NULL,
    target TEXT NOT NULL,
    summary TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_records_by_day ON audit_records (chain, day, seq);

-- A day's seal: its last record and how many it has, written when the chain's next day begins.
CREATE TABLE audit_seals (
    chain TEXT NOT NULL,
    day TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL,
    records BIGINT NOT NULL,
    PRIMARY KEY (chain, day)
);

-- Days a domain's audit records stay in the store before retention archives them to files;
-- NULL keeps them forever.
ALTER TABLE domains ADD COLUMN audit_retention_days BIGINT;
