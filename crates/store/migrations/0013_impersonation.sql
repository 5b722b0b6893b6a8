-- An administrator acting for an account (docs/impersonation.md): the session is the
-- account's, and names the administrator, whose own removal ends it.
ALTER TABLE sessions ADD COLUMN acting_admin_id BIGINT REFERENCES accounts (id) ON DELETE CASCADE;
ALTER TABLE sessions ADD COLUMN acting_admin TEXT;
CREATE INDEX sessions_by_acting_admin ON sessions (acting_admin_id);

-- The administrator acting for the record's actor, or empty; covered by the record's hash
-- when not empty.
ALTER TABLE audit_records ADD COLUMN acting TEXT NOT NULL DEFAULT '';
