-- SQLite only: the records live in their (chain, seq) key's B-tree, instead of a rowid table
-- beside an index on that key, so a change writes one B-tree for its audit record, not two.
-- The columns keep their order.
CREATE TABLE audit_records_keyed (
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
    acting TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (chain, seq)
) WITHOUT ROWID;
INSERT INTO audit_records_keyed (chain, seq, at, day, security, action, actor, source_ip, source_host, target, summary, prev_hash, hash, acting)
    SELECT chain, seq, at, day, security, action, actor, source_ip, source_host, target, summary, prev_hash, hash, acting
    FROM audit_records;
DROP TABLE audit_records;
ALTER TABLE audit_records_keyed RENAME TO audit_records;
