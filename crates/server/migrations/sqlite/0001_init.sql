-- Every account's address, users and applications alike. The primary key is
-- the email rule itself: two accounts can never hold one address, whatever
-- the interleaving of concurrent requests.
CREATE TABLE account_emails (
    email        TEXT PRIMARY KEY,
    account_kind TEXT NOT NULL,
    account_id   TEXT NOT NULL
);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    permissions TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id),
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role ON user_roles (role_id);

CREATE TABLE applications (
    id                         TEXT PRIMARY KEY,
    client_id                  TEXT NOT NULL UNIQUE,
    name                       TEXT NOT NULL,
    email                      TEXT NOT NULL,
    application_url            TEXT,
    description                TEXT,
    enabled                    INTEGER NOT NULL,
    secret_ciphertext          BLOB NOT NULL,
    secret_mac                 BLOB NOT NULL,
    previous_secret_mac        BLOB,
    previous_secret_expires_at INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);
CREATE INDEX applications_name ON applications (name);

CREATE TABLE application_roles (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    role_id        TEXT NOT NULL REFERENCES roles (id),
    PRIMARY KEY (application_id, role_id)
);
CREATE INDEX application_roles_role ON application_roles (role_id);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid                    TEXT PRIMARY KEY,
    private_key_ciphertext BLOB NOT NULL,
    public_key             BLOB NOT NULL,
    created_at             INTEGER NOT NULL,
    retired_at             INTEGER
);

CREATE TABLE reveal_failures (
    user_id TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX reveal_failures_user ON reveal_failures (user_id, at);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    detail      TEXT
);

CREATE TABLE cases (
    id              TEXT PRIMARY KEY,
    title           TEXT NOT NULL,
    description     TEXT,
    status          TEXT NOT NULL,
    created_by_kind TEXT NOT NULL,
    created_by_id   TEXT NOT NULL,
    created_by_name TEXT NOT NULL,
    updated_by_kind TEXT NOT NULL,
    updated_by_id   TEXT NOT NULL,
    updated_by_name TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE reports (
    id              TEXT PRIMARY KEY,
    summary         TEXT NOT NULL,
    details         TEXT,
    created_by_kind TEXT NOT NULL,
    created_by_id   TEXT NOT NULL,
    created_by_name TEXT NOT NULL,
    updated_by_kind TEXT NOT NULL,
    updated_by_id   TEXT NOT NULL,
    updated_by_name TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
