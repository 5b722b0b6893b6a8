-- Bans of the brute-force guard and of administrators, shared by every server on the database.
-- A row outlives its ban so the next automatic ban of the same client can grow; rows are
-- forgotten once their ban ended longer ago than guard.ban_time_max.
CREATE TABLE bans (
    network TEXT PRIMARY KEY,
    until_at BIGINT NOT NULL,
    offences BIGINT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX bans_by_end ON bans (until_at);

-- Row 2 of the epoch table moves with every ban written or lifted; servers reload their
-- in-memory ban list when it does.
INSERT INTO auth_epoch (id, value) VALUES (2, 0);
