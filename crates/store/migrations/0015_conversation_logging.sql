-- Whether a domain's instant-messaging conversations are logged (0 or 1). Logged messages go
-- to the domain's conversation chain ('<domain>:im'), beside its audit chain.
ALTER TABLE domains ADD COLUMN im_logging BIGINT NOT NULL DEFAULT 0;
