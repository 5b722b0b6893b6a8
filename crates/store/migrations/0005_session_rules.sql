-- Each session keeps the idle length it was given at login (it depends on the role and on
-- "remember me"), so moving its idle deadline needs no lookup.
ALTER TABLE sessions ADD COLUMN idle_seconds BIGINT NOT NULL DEFAULT 3600;
ALTER TABLE sessions ADD COLUMN remembered BIGINT NOT NULL DEFAULT 0;
