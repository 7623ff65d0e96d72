-- An ended secret stays listed as what it was: its id, label and creation,
-- beside when it ended. Columns only added (null for secrets ended before
-- this release); the trigger is made again to fill them, for every
-- release's deletes alike.
ALTER TABLE ended_secrets ADD COLUMN secret_id TEXT;
ALTER TABLE ended_secrets ADD COLUMN label TEXT;
ALTER TABLE ended_secrets ADD COLUMN created_at INTEGER;
CREATE INDEX ended_secrets_application ON ended_secrets (application_id, ended_at);

DROP TRIGGER client_secrets_ended;
CREATE TRIGGER client_secrets_ended AFTER DELETE ON client_secrets
BEGIN
    INSERT OR IGNORE INTO ended_secrets (secret_mac, application_id, ended_at, secret_id, label, created_at)
        VALUES (OLD.secret_mac, OLD.application_id,
                -- To the millisecond (0014 had whole seconds), so that two
                -- secrets ended one after the other list in that order.
                CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
                OLD.id, OLD.label, OLD.created_at);
END;
