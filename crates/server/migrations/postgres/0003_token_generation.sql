-- Tokens issued before this time (Unix seconds) are refused even once the
-- application is enabled again: disabling revokes, it does not suspend.
ALTER TABLE applications ADD COLUMN tokens_not_before BIGINT NOT NULL DEFAULT 0;
