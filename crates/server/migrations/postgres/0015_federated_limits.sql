-- SPEC "Security rules added": a federated credential may bound how long
-- the tokens it accepts were minted to live (exp - iat, in seconds; NULL:
-- no bound) and accept each token's jti once (1) or not (0). Added with
-- defaults, so a release that does not read them keeps working beside one
-- that does.
ALTER TABLE federated_credentials ADD COLUMN max_token_lifetime_seconds BIGINT;
ALTER TABLE federated_credentials ADD COLUMN single_use BIGINT NOT NULL DEFAULT 0;
