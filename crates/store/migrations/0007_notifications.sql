-- Mail Deskward sends itself (notifications, verification links) waits in the outbox until a
-- delivery worker hands it to the relay; a row is claimed by moving next_attempt_at, so two
-- servers on one database never send the same message twice at once.
ALTER TABLE accounts ADD COLUMN email TEXT;

CREATE TABLE outbox (
    id BIGINT PRIMARY KEY,
    -- The audit chain the delivery's record goes to.
    chain TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    done_at BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_recipient ON outbox (recipient, kind, created_at);

-- A domain's choice of which roles are mailed on logins; no row keeps the server's setting.
CREATE TABLE domain_notifications (
    domain_id BIGINT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'agent', 'domain-admin', 'system-admin')),
    login_success BIGINT NOT NULL,
    login_failure BIGINT NOT NULL,
    PRIMARY KEY (domain_id, role)
);
