-- 0001: kernels, images, VMs, IP leases and recorded host objects.
-- Times are UTC text "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ". Optional references
-- are NULL (never ''), so foreign keys hold.

CREATE TABLE kernels (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	path        TEXT NOT NULL,
	vmlinux     TEXT NOT NULL DEFAULT '',
	initrd      TEXT NOT NULL DEFAULT '',
	modules_dir TEXT NOT NULL DEFAULT '',
	version     TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE images (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	path       TEXT NOT NULL,
	size_bytes INTEGER NOT NULL DEFAULT 0,
	input_hash TEXT NOT NULL DEFAULT '',
	kernel_id  TEXT REFERENCES kernels(id) ON DELETE RESTRICT,
	created_at TEXT NOT NULL
) STRICT;

CREATE INDEX images_input_hash ON images(input_hash) WHERE input_hash <> '';

CREATE TABLE vms (
	id              TEXT PRIMARY KEY,
	name            TEXT NOT NULL UNIQUE,
	state           TEXT NOT NULL,
	image_id        TEXT REFERENCES images(id) ON DELETE RESTRICT,
	kernel_id       TEXT REFERENCES kernels(id) ON DELETE RESTRICT,
	vcpus           INTEGER NOT NULL DEFAULT 0,
	memory_mib      INTEGER NOT NULL DEFAULT 0,
	disk_size_bytes INTEGER NOT NULL DEFAULT 0,
	vmm             TEXT NOT NULL DEFAULT '',
	ip              TEXT NOT NULL DEFAULT '',
	mac             TEXT NOT NULL DEFAULT '',
	tap             TEXT NOT NULL DEFAULT '',
	run_dir         TEXT NOT NULL DEFAULT '',
	runtime         BLOB,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL
) STRICT;

-- Two VMs must never share a tap or a MAC address.
CREATE UNIQUE INDEX vms_tap ON vms(tap) WHERE tap <> '';
CREATE UNIQUE INDEX vms_mac ON vms(mac) WHERE mac <> '';
CREATE INDEX vms_image_id ON vms(image_id);
CREATE INDEX vms_kernel_id ON vms(kernel_id);
CREATE INDEX images_kernel_id ON images(kernel_id);

-- One address per VM and one VM per address. Deleting the VM row drops
-- its lease.
CREATE TABLE leases (
	addr       TEXT PRIMARY KEY,
	vm_id      TEXT NOT NULL UNIQUE REFERENCES vms(id) ON DELETE CASCADE,
	created_at TEXT NOT NULL
) STRICT;

-- Host objects may outlive their VM row (a crash between the two), so the
-- owner is not a foreign key: teardown works from this record alone.
CREATE TABLE host_objects (
	kind       TEXT NOT NULL,
	name       TEXT NOT NULL,
	owner      TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	PRIMARY KEY (kind, name)
) STRICT;
