-- SPEC "Upgrades, versions and key custody": master key rotation. Keys the
-- install holds for its lifetime, sealed under the master key, so that a
-- new master key only seals them again. `client-secret-mac` is the key of
-- the client secrets' MAC (client_secrets.secret_mac, ended_secrets): the
-- first server of this release stores the key releases before it derived
-- from the master key, so every stored MAC stays valid, and no rotation
-- changes one. Inserted if absent, so replicas starting together agree.
CREATE TABLE install_keys (
    name         TEXT PRIMARY KEY,
    -- Sealed like every other value: a header naming the master key, then
    -- nonce and AES-256-GCM ciphertext, with `name` as associated data.
    sealed_value BYTEA NOT NULL,
    -- Microseconds since the epoch.
    created_at   BIGINT NOT NULL
);
