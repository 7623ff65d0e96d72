-- One counter that moves with every change a cached view of an application
-- or a token could depend on. Each server polls it and drops its caches
-- when it moves, so a cache entry can be trusted for as long as the polls
-- keep confirming nothing changed, not just for a short fixed time. The
-- triggers bump it in the same transaction as the change, so no write path
-- can forget to; once per statement, so a bulk change costs one bump.
CREATE TABLE cache_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO cache_generation (id, generation) VALUES (1, 0);

CREATE FUNCTION bump_cache_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_generation SET generation = generation + 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER applications_changed AFTER UPDATE OR DELETE ON applications
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation();
CREATE TRIGGER application_roles_changed AFTER INSERT OR DELETE ON application_roles
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation();
CREATE TRIGGER roles_changed AFTER UPDATE OR DELETE ON roles
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation();
-- Only a new revocation matters: dropping an expired one frees nothing.
CREATE TRIGGER revoked_tokens_inserted AFTER INSERT ON revoked_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation();
