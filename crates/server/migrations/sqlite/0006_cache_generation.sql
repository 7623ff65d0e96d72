-- One counter that moves with every change a cached view of an application
-- or a token could depend on. Each server polls it and drops its caches
-- when it moves, so a cache entry can be trusted for as long as the polls
-- keep confirming nothing changed, not just for a short fixed time. The
-- triggers bump it in the same transaction as the change, so no write path
-- can forget to.
CREATE TABLE cache_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO cache_generation (id, generation) VALUES (1, 0);

CREATE TRIGGER applications_updated AFTER UPDATE ON applications
BEGIN UPDATE cache_generation SET generation = generation + 1; END;
CREATE TRIGGER applications_deleted AFTER DELETE ON applications
BEGIN UPDATE cache_generation SET generation = generation + 1; END;
CREATE TRIGGER application_roles_inserted AFTER INSERT ON application_roles
BEGIN UPDATE cache_generation SET generation = generation + 1; END;
CREATE TRIGGER application_roles_deleted AFTER DELETE ON application_roles
BEGIN UPDATE cache_generation SET generation = generation + 1; END;
CREATE TRIGGER roles_updated AFTER UPDATE ON roles
BEGIN UPDATE cache_generation SET generation = generation + 1; END;
CREATE TRIGGER roles_deleted AFTER DELETE ON roles
BEGIN UPDATE cache_generation SET generation = generation + 1; END;
-- Only a new revocation matters: dropping an expired one frees nothing.
CREATE TRIGGER revoked_tokens_inserted AFTER INSERT ON revoked_tokens
BEGIN UPDATE cache_generation SET generation = generation + 1; END;
