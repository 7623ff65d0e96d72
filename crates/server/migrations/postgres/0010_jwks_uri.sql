-- Where a private_key_jwt application's JWK Set is fetched from, when its
-- keys are not registered inline: at most one of jwks and jwks_uri is set.
ALTER TABLE applications ADD COLUMN jwks_uri TEXT;
