-- The name as Rust lowercases it, for case-insensitive search: SQLite's
-- LOWER() folds ASCII only.
ALTER TABLE applications ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE applications SET name_key = LOWER(name);
