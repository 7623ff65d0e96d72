-- SPEC "Upgrades, versions and key custody": rolling upgrades. Migrations
-- only add, so a release keeps serving on a database a newer one migrated;
-- `oldest_reader` is the oldest migration a binary must know to serve this
-- schema. A release that drops what an older one reads raises it in the
-- same migration (a release after the one that stopped reading it), and a
-- binary that knows less answers /readyz 503, naming both versions.
CREATE TABLE schema_compat (
    id            INTEGER PRIMARY KEY,
    oldest_reader BIGINT NOT NULL
);
INSERT INTO schema_compat (id, oldest_reader) VALUES (1, 13);

-- /readyz writes here: ready means the database can be written, not only read.
CREATE TABLE readiness_probe (
    id         INTEGER PRIMARY KEY,
    checked_at BIGINT NOT NULL
);
INSERT INTO readiness_probe (id, checked_at) VALUES (1, 0);
