-- SPEC "Sender-constrained tokens (DPoP, RFC 9449)": an application may
-- require every token it gets to be bound to its own key (1), so that a
-- token request without a DPoP proof is refused; 0, the default, keeps
-- bearer tokens. Rolling-upgrade safe: only adds. The previous release does
-- not read it and would go on issuing bearer tokens to such an application,
-- so a rolling upgrade must finish before an admin turns it on. A change
-- moves the cache generation through the applications trigger of migration
-- 0006, like any change to the row.
ALTER TABLE applications ADD COLUMN dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0;
