-- the contract ("Tenants"): one install serves many agencies. Rolling-upgrade
-- safe ("Upgrades, versions and key custody"): this migration only adds.
-- Every row the previous release writes lands in the root tenant through
-- the columns' default, which is right: that release serves only the root.
--
-- Two constraints of the single-tenant schema cannot be narrowed to a tenant
-- without rebuilding their tables, which the previous release still reads:
-- `account_emails.email` (primary key) and `roles.name_key` (unique). Until
-- the release after this one rebuilds them with (tenant_id, …) keys, rows of
-- a tenant other than the root hold `<tenant id>` U+001F `<key>` there: a
-- control character is in no valid email and in no role name, so a tenant's
-- key never meets another's, and every read filters on tenant_id as well.
CREATE TABLE tenants (
    id                 TEXT PRIMARY KEY,
    slug               TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    enabled            BIGINT NOT NULL,
    -- Microseconds since the epoch, while disabled. Disabling also moves
    -- every application's token_generation, so enabling the tenant again
    -- does not bring back a token it held.
    disabled_at        BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
-- The root's creation is when the install took tenancy on.
INSERT INTO tenants (id, slug, name, enabled, created_at, updated_at)
    VALUES ('root', 'root', 'Root', 1, CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT), CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT));

ALTER TABLE account_emails ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE roles ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE users ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE user_roles ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE applications ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE application_roles ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE sessions ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE signing_keys ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE reveal_failures ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE audit_events ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE cases ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE reports ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE federated_credentials ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE client_secrets ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';
ALTER TABLE outbox ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'root';

-- The `tenants` permission module exists only at the root. The previous
-- release parses `roles.permissions` strictly, so the new module's
-- permissions live in a column of their own that it never reads. Every
-- role holding the whole `admin` module gets them (the seeded
-- Administrator, or the role an install made in its place): the grant rule
-- lets only a holder give a permission, so without one nobody ever could.
ALTER TABLE roles ADD COLUMN platform_permissions TEXT NOT NULL DEFAULT '';
UPDATE roles SET platform_permissions = 'tenants:view tenants:create tenants:edit tenants:delete'
    WHERE ' ' || permissions || ' ' LIKE '% admin:view %'
      AND ' ' || permissions || ' ' LIKE '% admin:create %'
      AND ' ' || permissions || ' ' LIKE '% admin:edit %'
      AND ' ' || permissions || ' ' LIKE '% admin:delete %';

-- Which release each live replica runs, written with its quota heartbeat.
-- The previous release reads every signing key and account without a
-- tenant filter, so tenants other than the root are created only once no
-- replica of it is alive (a replica in token_quota_replicas without a row
-- here).
CREATE TABLE replica_releases (
    replica_id     TEXT PRIMARY KEY,
    schema_version BIGINT NOT NULL,
    seen_at        BIGINT NOT NULL
);

-- Lists page by id within one tenant; the tenant's rows sit together.
CREATE INDEX users_tenant ON users (tenant_id, id);
CREATE INDEX roles_tenant ON roles (tenant_id, id);
CREATE INDEX applications_tenant ON applications (tenant_id, id);
CREATE INDEX signing_keys_tenant ON signing_keys (tenant_id, created_at);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);
CREATE INDEX cases_tenant ON cases (tenant_id, id);
CREATE INDEX reports_tenant ON reports (tenant_id, id);
CREATE INDEX account_emails_tenant ON account_emails (tenant_id, account_kind, account_id);

-- A tenant disabled, enabled or deleted changes what every replica's caches
-- may answer for it.
CREATE TRIGGER tenants_changed AFTER UPDATE OR DELETE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation();
