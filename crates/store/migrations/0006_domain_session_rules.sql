-- A domain's own session lifetimes (seconds) and its remember-me switch; NULL keeps the
-- server's setting.
CREATE TABLE domain_session_rules (
    domain_id BIGINT PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    users_idle BIGINT,
    users_absolute BIGINT,
    staff_idle BIGINT,
    staff_absolute BIGINT,
    remember_me BIGINT
);
