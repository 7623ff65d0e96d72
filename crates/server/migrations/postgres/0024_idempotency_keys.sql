-- SPEC "Partner experience": a POST with an Idempotency-Key is done once.
-- The first request claims (tenant, account, key) with the fingerprint of
-- its method, path and body; its answer is kept, the body sealed under the
-- master key (an answer may carry a new secret), for 24 hours. A claim
-- still running past its lease (a replica that died) may be taken over.
-- Rolling-upgrade safe: only adds; the previous release ignores the header.
CREATE TABLE idempotency_keys (
    tenant_id    TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    fingerprint  BYTEA NOT NULL,
    done         BIGINT NOT NULL DEFAULT 0,
    status       BIGINT,
    content_type TEXT,
    location     TEXT,
    body_sealed  BYTEA,
    claimed_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, account_id, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
