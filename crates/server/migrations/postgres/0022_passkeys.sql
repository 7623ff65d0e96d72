-- the contract ("Signing in strongly"): passkeys (WebAuthn) as a second
-- factor. Rolling-upgrade safe: only adds; the previous release reads none
-- of it.

-- A registered passkey: its public key, credential id and signature
-- counter, as the WebAuthn library keeps them (JSON). Nothing here is
-- secret: a passkey's private key never leaves the authenticator.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id     TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    name          TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (tenant_id, user_id);
-- Unique within a tenant only: a credential known to another tenant must
-- not be told apart from an unknown one.
CREATE UNIQUE INDEX passkeys_credential ON passkeys (tenant_id, credential_id);

-- The server's half of a ceremony between its two requests (the challenge
-- sent, what it allows): single use, minutes long, any replica's.
CREATE TABLE webauthn_ceremonies (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Wrong second-factor codes per person, for a lockout across replicas and
-- sources: a code has a million values, and a per-source throttle alone
-- lets many sources share the guessing.
CREATE TABLE second_factor_failures (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX second_factor_failures_user ON second_factor_failures (tenant_id, user_id, at);
