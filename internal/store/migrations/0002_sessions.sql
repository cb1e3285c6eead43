-- 0002: guest-agent sessions, one row per session the daemon knows of.
-- The guest keeps the authoritative record (its meta.json); these rows let
-- the daemon answer while a VM is stopped and after a restart, and are
-- refreshed from the guest whenever it answers. Env values never leave
-- the guest: only the keys are stored.

CREATE TABLE sessions (
	id           TEXT NOT NULL,
	vm_id        TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
	name         TEXT NOT NULL DEFAULT '',
	argv         TEXT NOT NULL,              -- JSON array of strings
	cwd          TEXT NOT NULL DEFAULT '',
	env_keys     TEXT NOT NULL DEFAULT '[]', -- JSON array of keys, no values
	tty          INTEGER NOT NULL DEFAULT 0,
	state        TEXT NOT NULL,
	pid          INTEGER NOT NULL DEFAULT 0,
	exit_code    INTEGER,                    -- NULL until the session ended
	signal       TEXT NOT NULL DEFAULT '',
	diagnostics  TEXT NOT NULL DEFAULT '[]', -- JSON array: last stderr lines of a launch failure, or why it was lost
	created_at   TEXT NOT NULL,
	started_at   TEXT NOT NULL DEFAULT '',
	ended_at     TEXT NOT NULL DEFAULT '',
	updated_at   TEXT NOT NULL,
	PRIMARY KEY (vm_id, id)
) STRICT;

-- Names are optional and unique within one VM.
CREATE UNIQUE INDEX sessions_vm_name ON sessions(vm_id, name) WHERE name <> '';
