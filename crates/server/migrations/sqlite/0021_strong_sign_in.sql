-- the contract ("Signing in strongly"). Rolling-upgrade safe: only adds.
-- The previous release reads none of this: while both run, a user it
-- serves signs in with a password alone and a disabled one is refused only
-- by this release (the CHANGELOG's "Upgrading" says so).

-- A user who cannot sign in while disabled; when they last did.
ALTER TABLE users ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN last_sign_in_at INTEGER;
-- TOTP: the secret sealed under the master key (associated data: the
-- user's id), set when enrolment begins and confirmed by the first code;
-- the last time step a code was accepted at, so no code counts twice.
ALTER TABLE users ADD COLUMN totp_secret_sealed BLOB;
ALTER TABLE users ADD COLUMN totp_started_at INTEGER;
ALTER TABLE users ADD COLUMN totp_confirmed_at INTEGER;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

-- Each recovery code's MAC under the install's secret MAC key, as client
-- secrets are kept: 50 random bits would not survive an offline guess
-- against a plain hash, and do against a key the database does not hold.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_mac  BLOB NOT NULL,
    tenant_id TEXT NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_mac)
);

-- The half of a sign-in between the password and the second factor:
-- a digest of the token handed back, single use, minutes long.
CREATE TABLE mfa_challenges (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Invitation and password-reset links: a digest of the token in the link.
CREATE TABLE password_links (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX password_links_user ON password_links (tenant_id, user_id);

ALTER TABLE tenants ADD COLUMN require_mfa_for_admins INTEGER NOT NULL DEFAULT 0;

-- A notice that carries a one-time link keeps its body sealed (associated
-- data: the notice's id); `body` then holds the text without the link.
ALTER TABLE outbox ADD COLUMN sealed_body BLOB;
