-- A rotated-in key may be published before it signs, so that verifiers
-- caching the JWKS have it before the first token it signs reaches them.
ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT NOT NULL DEFAULT 0;
