-- A counter bumped in the same transaction as every change that can end or narrow an
-- authenticated session (session deleted, account or domain disabled, password, role, class
-- or group changed). Servers cache authentication results and drop the cache when it moves.
CREATE TABLE auth_epoch (
    id BIGINT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, value) VALUES (1, 0);
