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
	rows, err := s.db.QueryContext(ctx, `SELECT kind, name, owner, created_at FROM host_objects ORDER BY kind, name`)
	if err != nil {
		return nil, s.wrap(err, "listing host objects")
	}
	defer rows.Close()
	var objs []HostObject
	for rows.Next() {
		var o HostObject
		var created string
		if err := rows.Scan(&o.Kind, &o.Name, &o.Owner, &created); err != nil {
			return nil, s.wrap(err, "listing host objects")
		}
		if o.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("listing host objects: %w", err)
		}
		objs = append(objs, o)
	}
	return objs, s.wrap(rows.Err(), "listing host objects")
}
