-- Bumped every time the application is disabled. Tokens carry the generation
-- they were issued in and are refused once it has moved on: disabling
-- revokes, it does not suspend, even tokens a replica issued from a view of
-- the application that was a moment stale.
ALTER TABLE applications ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
