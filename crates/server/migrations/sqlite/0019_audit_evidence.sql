-- The audit trail as evidence: the client address a change came from, the
-- request it came in, what its target was called at the time, and what
-- changed (a JSON object). Columns only added, all nullable: a previous
-- release keeps writing events without them, and they read as unknown.
ALTER TABLE audit_events ADD COLUMN source TEXT;
ALTER TABLE audit_events ADD COLUMN request_id TEXT;
ALTER TABLE audit_events ADD COLUMN target_name TEXT;
ALTER TABLE audit_events ADD COLUMN changes TEXT;
-- The trail of one record or one account, and the check that a refused
-- expired secret was recorded in the last minute, without reading a
-- tenant's whole trail. (Built while writes to the trail wait: it is
-- built once, and in seconds for a million events.)
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_id, at);
CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor_id, at);
