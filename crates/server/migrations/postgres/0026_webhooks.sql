-- SPEC "Webhooks": endpoints a tenant's admins register to receive its
-- audit events, signed per Standard Webhooks. The signing secret is sealed
-- under the master key (associated data: the webhook's id) and shown once.
-- Rolling-upgrade safe: only adds; a replica of the previous release writes
-- audit events without queueing deliveries, which this release tolerates.
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    description     TEXT,
    enabled         BIGINT NOT NULL DEFAULT 1,
    secret_sealed   BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by_kind TEXT NOT NULL,
    created_by_id   TEXT NOT NULL,
    created_by_name TEXT NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id);
-- Which actions each endpoint takes: an exact action, or every action that
-- starts with a prefix ('' for all). Kept as rows so that the audit write
-- queues deliveries in one INSERT … SELECT.
CREATE TABLE webhook_event_types (
    tenant_id   TEXT NOT NULL,
    webhook_id  TEXT NOT NULL,
    exact       TEXT,
    prefix      TEXT
);
CREATE INDEX webhook_event_types_webhook ON webhook_event_types (tenant_id, webhook_id);
-- The outbox: one row per (endpoint, audit event), written in the event's
-- transaction. next_attempt_at is NULL once delivered or given up; a
-- replica leases a row by moving it ahead and naming itself in lease.
CREATE TABLE webhook_deliveries (
    tenant_id       TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    action          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    window_start    BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease           TEXT,
    last_attempt_at BIGINT,
    delivered_at    BIGINT,
    response_status BIGINT,
    last_error      TEXT,
    PRIMARY KEY (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at);
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (tenant_id, webhook_id, event_id);
