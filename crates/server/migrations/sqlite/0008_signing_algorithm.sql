-- Each key signs with one algorithm, fixed when it is made. Keys made before
-- there was a choice are Ed25519.
ALTER TABLE signing_keys ADD COLUMN alg TEXT NOT NULL DEFAULT 'EdDSA';
