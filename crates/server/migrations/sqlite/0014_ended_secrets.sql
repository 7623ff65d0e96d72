-- The MAC of every client secret that stopped existing: ended by an admin,
-- by a rotation without grace, by a leak report, by the move to
-- private_key_jwt, by the purge of long-expired secrets or with its
-- application. A leak report of one of them is still a real leak, already
-- dealt with, never a false positive. No foreign key: a deleted
-- application's secrets stay known as ended.
CREATE TABLE ended_secrets (
    secret_mac     BLOB PRIMARY KEY,
    application_id TEXT NOT NULL,
    -- Microseconds since the epoch, by the database's clock.
    ended_at       INTEGER NOT NULL
);

-- Kept by trigger, so that no path that deletes a secret can forget it.
CREATE TRIGGER client_secrets_ended AFTER DELETE ON client_secrets
BEGIN
    INSERT OR IGNORE INTO ended_secrets (secret_mac, application_id, ended_at)
        VALUES (OLD.secret_mac, OLD.application_id, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
END;
