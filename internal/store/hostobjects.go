package store

import (
	"context"
	"fmt"
)

// RecordHostObject notes o before it is created on the host, so teardown
// never guesses names. Idempotent upsert keyed by (Kind, Name): a second
// call keeps the first CreatedAt and takes the new Owner. o.CreatedAt is
// ignored (the store sets it). Same contract as hostnet.Recorder.Record.
func (s *Store) RecordHostObject(ctx context.Context, o HostObject) error {
	if o.Kind == "" || o.Name == "" {
		return fmt.Errorf("recording host object %q/%q: empty kind or name", o.Kind, o.Name)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO host_objects (kind, name, owner, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, name) DO UPDATE SET owner = excluded.owner`,
		o.Kind, o.Name, o.Owner, formatTime(now()))
	return s.wrap(err, "recording %s %s", o.Kind, o.Name)
}

// ForgetHostObject drops the note of an object after it was removed from the
// host. Idempotent: forgetting an unknown object is not an error.
func (s *Store) ForgetHostObject(ctx context.Context, kind, name string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM host_objects WHERE kind = ? AND name = ?`, kind, name)
	return s.wrap(err, "forgetting %s %s", kind, name)
}

// ListHostObjects returns every recorded host object, ordered by kind, then
// name.
func (s *Store) ListHostObjects(ctx context.Context) ([]HostObject, error) {
	return queryAll(ctx, s, scanHostObject, "listing host objects",
		`SELECT kind, name, owner, created_at FROM host_objects ORDER BY kind, name`)
}

func scanHostObject(r scanner) (HostObject, error) {
	var o HostObject
	var created string
	if err := r.Scan(&o.Kind, &o.Name, &o.Owner, &created); err != nil {
		return HostObject{}, err
	}
	var err error
	o.CreatedAt, err = parseTime(created)
	return o, err
}
