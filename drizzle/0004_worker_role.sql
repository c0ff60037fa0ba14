-- The Worker's least privilege (docs/deploy.md): a role that can do exactly what session-gate
-- does on the application's database and nothing else. NOLOGIN: the Worker logs in as a role of
-- its own that is a member of this one (`CREATE ROLE session_gate_app LOGIN PASSWORD '...' IN ROLE
-- session_gate_worker`), made once per environment by an administrator, so no password is ever in
-- a migration. Creating the role needs CREATEROLE (Neon's database owner has it); roles belong to
-- the whole cluster, so a second database on the same server finds it there already.
DO $$ BEGIN
	CREATE ROLE session_gate_worker NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO session_gate_worker;
--> statement-breakpoint
-- Read a session by its hash and show it (never the user agent); every column the check, the
-- lifecycle statements and the job read.
GRANT SELECT (id, user_id, session_token_hash, created_at, last_activity_at, absolute_expires_at, ip_address, tenant_id, is_active, revoked_at, revoke_reason, ended_at, app_type) ON TABLE sessions TO session_gate_worker;
--> statement-breakpoint
-- Issue sessions: every column, as the existing application's table has no server defaults.
-- Nothing on users or tenants: PostgreSQL checks a foreign key as the referenced table's owner.
GRANT INSERT (id, user_id, session_token_hash, created_at, last_activity_at, absolute_expires_at, ip_address, user_agent, tenant_id, is_active, app_type) ON TABLE sessions TO session_gate_worker;
--> statement-breakpoint
-- What the check (touch, lazy expiry), the lifecycle routes (end) and the expiry job write.
GRANT UPDATE (is_active, revoke_reason, ended_at, revoked_at, last_activity_at) ON TABLE sessions TO session_gate_worker;
--> statement-breakpoint
-- The job's retention purge (only with SESSION_RETENTION_DAYS set).
GRANT DELETE ON TABLE sessions TO session_gate_worker;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION session_gate_check(text, integer, integer) TO session_gate_worker;
