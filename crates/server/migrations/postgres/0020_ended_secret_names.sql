-- An ended secret stays listed as what it was: its id, label and creation,
-- beside when it ended. Columns only added (null for secrets ended before
-- this release); the trigger function is replaced to fill them, for every
-- release's deletes alike.
ALTER TABLE ended_secrets ADD COLUMN secret_id TEXT;
ALTER TABLE ended_secrets ADD COLUMN label TEXT;
ALTER TABLE ended_secrets ADD COLUMN created_at BIGINT;
CREATE INDEX ended_secrets_application ON ended_secrets (application_id, ended_at);

CREATE OR REPLACE FUNCTION remember_ended_secret() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ended_secrets (secret_mac, application_id, ended_at, secret_id, label, created_at)
        VALUES (OLD.secret_mac, OLD.application_id, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT,
                OLD.id, OLD.label, OLD.created_at)
        ON CONFLICT (secret_mac) DO NOTHING;
    RETURN NULL;
END;
$$;
