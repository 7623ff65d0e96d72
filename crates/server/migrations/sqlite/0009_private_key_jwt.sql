-- How an application authenticates at the token endpoint. A private_key_jwt
-- application keeps public keys (stored as they are shown: they are not
-- secret) and no client secret: its secret columns hold empty bytes, which
-- no presented secret's MAC ever equals.
ALTER TABLE applications ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT 'client_secret_basic';
ALTER TABLE applications ADD COLUMN jwks TEXT;

-- Each client assertion's jti, kept until the assertion expires, so that one
-- is accepted once on every replica: the primary key refuses the second use.
CREATE TABLE client_assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_expiry ON client_assertion_jtis (expires_at);
