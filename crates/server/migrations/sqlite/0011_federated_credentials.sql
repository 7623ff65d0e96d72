-- Outside identities an application trusts (SPEC "Federated credentials"):
-- a workload holding a token of `issuer` for `subject` trades it for a
-- Casebook token of the application. The issuer's keys are public, kept as
-- they are shown; `audience` NULL means this server's issuer identifier,
-- read when a token is judged, so a changed public URL is followed.
CREATE TABLE federated_credentials (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    subject        TEXT NOT NULL,
    audience       TEXT,
    claims         TEXT NOT NULL,
    jwks           TEXT,
    jwks_uri       TEXT,
    created_at     INTEGER NOT NULL,
    created_by_kind TEXT NOT NULL,
    created_by_id  TEXT NOT NULL,
    created_by_name TEXT NOT NULL,
    UNIQUE (application_id, name)
);
-- The token endpoint's lookup: the credentials of one application for the
-- token's issuer and subject.
CREATE INDEX federated_credentials_match ON federated_credentials (application_id, issuer, subject);
