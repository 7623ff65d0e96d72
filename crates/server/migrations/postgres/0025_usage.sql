-- SPEC "Usage at a glance": each application's counts per hour (tokens
-- issued, token requests refused by reason, API calls refused), kept 30
-- days. Each replica counts in memory and adds what it counted every few
-- seconds (one upsert per tenant, application, hour and counter), so the
-- replicas' counts sum. Rolling-upgrade safe: only adds.
CREATE TABLE usage_counts (
    tenant_id      TEXT NOT NULL,
    application_id TEXT NOT NULL,
    hour           BIGINT NOT NULL,
    counter        TEXT NOT NULL,
    n              BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, application_id, hour, counter)
);
CREATE INDEX usage_counts_hour ON usage_counts (hour);
