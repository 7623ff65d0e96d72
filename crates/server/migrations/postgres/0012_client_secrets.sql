-- Several client secrets per application (SPEC "Secret lifecycle"), each
-- with a label, an optional expiry, when it was last used and which expiry
-- reminder it last had. The value is sealed with the application's id as
-- associated data, as it was in `applications`, so moved rows still open.
CREATE TABLE client_secrets (
    id                TEXT PRIMARY KEY,
    application_id    TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    label             TEXT,
    secret_ciphertext BYTEA NOT NULL,
    secret_mac        BYTEA NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT,
    -- Written in batches, to the minute; never moves the cache generation.
    last_used_at      BIGINT,
    -- 0 nothing sent, 1..3 the 30-, 7- and 1-day reminders, 4 the expiry notice.
    reminder_stage    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX client_secrets_application ON client_secrets (application_id, created_at);
-- A leak report names a secret by its value alone: found by its MAC.
CREATE UNIQUE INDEX client_secrets_mac ON client_secrets (secret_mac);
-- Expiry reminders look for secrets that stop working soon.
CREATE INDEX client_secrets_expiry ON client_secrets (expires_at) WHERE expires_at IS NOT NULL;

-- The current secret keeps the application's id as its own. A previous
-- secret in its grace period moves too, by MAC alone: its value was never
-- kept, so it lists but cannot be revealed.
INSERT INTO client_secrets (id, application_id, secret_ciphertext, secret_mac, created_at)
    SELECT id, id, secret_ciphertext, secret_mac, updated_at FROM applications
    WHERE octet_length(secret_mac) > 0;
INSERT INTO client_secrets (id, application_id, secret_ciphertext, secret_mac, created_at, expires_at)
    SELECT id || '-previous', id, ''::bytea, previous_secret_mac, created_at, previous_secret_expires_at FROM applications
    WHERE previous_secret_mac IS NOT NULL AND octet_length(previous_secret_mac) > 0 AND previous_secret_expires_at IS NOT NULL;

ALTER TABLE applications DROP COLUMN secret_ciphertext;
ALTER TABLE applications DROP COLUMN secret_mac;
ALTER TABLE applications DROP COLUMN previous_secret_mac;
ALTER TABLE applications DROP COLUMN previous_secret_expires_at;

-- A secret added, ended or cut short changes what opens a client: every
-- replica drops its cached view. Use stamps and reminders do not.
CREATE TRIGGER client_secrets_changed AFTER INSERT OR DELETE OR UPDATE OF expires_at, secret_mac ON client_secrets
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation();
