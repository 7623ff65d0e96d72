-- A revocation names one token: it no longer moves the shared cache
-- generation (which empties every replica's caches). Each server instead
-- reads the revocations stamped since its last poll and forgets just those
-- tokens.
DROP TRIGGER revoked_tokens_inserted ON revoked_tokens;
ALTER TABLE revoked_tokens ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX revoked_tokens_by_time ON revoked_tokens (revoked_at);
