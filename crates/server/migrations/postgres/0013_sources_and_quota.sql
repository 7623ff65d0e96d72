-- SPEC "Where from" and "How many": the networks an application's token
-- requests and tokens are accepted from (a JSON array of CIDRs in canonical
-- form; NULL: anywhere), and the most tokens it may get in any sliding hour
-- (NULL: no quota). Changing either moves the cache generation through the
-- applications trigger of migration 0006, like any change to the row.
ALTER TABLE applications ADD COLUMN allowed_sources TEXT;
ALTER TABLE applications ADD COLUMN token_quota_per_hour BIGINT;

-- Grants per client and minute, summed over every replica. Each replica
-- counts its grants in memory and adds them here in one batched statement
-- about once a second; only grants near a client's quota are written one
-- by one. A grant counts in its minute and the 60 after it, so rows older
-- than that are purged.
CREATE TABLE token_grant_buckets (
    client_id TEXT NOT NULL,
    minute    BIGINT NOT NULL,
    grants    BIGINT NOT NULL,
    PRIMARY KEY (client_id, minute)
);
CREATE INDEX token_grant_buckets_minute ON token_grant_buckets (minute);

-- The replicas counting grants, each stamped by its last flush: how many
-- share the room left under a quota (see domain::quota::admits_locally).
CREATE TABLE token_quota_replicas (
    replica_id TEXT PRIMARY KEY,
    seen_at    BIGINT NOT NULL
);
