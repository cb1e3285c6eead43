package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Session states, as the guest agent reports them.
const (
	SessionStarting = "starting"
	SessionRunning  = "running"
	SessionExited   = "exited"
	// SessionLost: the process's supervisor vanished without recording an
	// exit (the VM stopped, or the guest crashed).
	SessionLost = "lost"
)

// Session is one long-lived process in a VM, as last seen in its guest.
// Env values are never stored, only the keys.
type Session struct {
	ID      string // assigned by the guest agent; unique within the VM
	VMID    string
	Name    string // optional; unique within the VM
	Argv    []string
	Cwd     string
	EnvKeys []string
	TTY     bool
	State   string
	PID     int
	// ExitCode is set once the session ended (128+n when killed by signal n).
	ExitCode *int
	Signal   string // e.g. "TERM" when killed by a signal
	// Diagnostics: the last stderr lines of a process that died within its
	// launch window, or why the session was lost.
	Diagnostics []string
	CreatedAt   time.Time
	StartedAt   time.Time // zero until started
	EndedAt     time.Time // zero while running
	UpdatedAt   time.Time // set by the store
}

const sessionColumns = `id, vm_id, name, argv, cwd, env_keys, tty, state, pid, exit_code, signal,
	diagnostics, created_at, started_at, ended_at, updated_at`

func scanSession(r scanner) (Session, error) {
	var s Session
	var argv, envKeys, diag, created, started, ended, updated string
	var exit sql.NullInt64
	if err := r.Scan(&s.ID, &s.VMID, &s.Name, &argv, &s.Cwd, &envKeys, &s.TTY, &s.State, &s.PID, &exit,
		&s.Signal, &diag, &created, &started, &ended, &updated); err != nil {
		return Session{}, err
	}
	if exit.Valid {
		c := int(exit.Int64)
		s.ExitCode = &c
	}
	for _, j := range []struct {
		text string
		dst  *[]string
	}{{argv, &s.Argv}, {envKeys, &s.EnvKeys}, {diag, &s.Diagnostics}} {
		if err := json.Unmarshal([]byte(j.text), j.dst); err != nil {
			return Session{}, fmt.Errorf("decoding session %s: %w", s.ID, err)
		}
	}
	var err error
	if s.CreatedAt, err = parseTime(created); err != nil {
		return Session{}, err
	}
	if s.UpdatedAt, err = parseTime(updated); err != nil {
		return Session{}, err
	}
	if s.StartedAt, err = parseOptionalTime(started); err != nil {
		return Session{}, err
	}
	if s.EndedAt, err = parseOptionalTime(ended); err != nil {
		return Session{}, err
	}
	return s, nil
}

func parseOptionalTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return parseTime(s)
}

func formatOptionalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatTime(t)
}

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l) // a string slice always marshals
	return string(b)
}

// putSession upserts s in tx. Another row of the same VM holding s.Name is
// deleted first: the guest enforces names, so its latest word wins over a
// stale row (a session removed while the daemon was away).
func putSession(ctx context.Context, tx *sql.Tx, s *Session, t time.Time) error {
	if s.Name != "" {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE vm_id = ? AND name = ? AND id <> ?`,
			s.VMID, s.Name, s.ID); err != nil {
			return err
		}
	}
	var exit any
	if s.ExitCode != nil {
		exit = *s.ExitCode
	}
	created := s.CreatedAt
	if created.IsZero() {
		created = t
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (vm_id, id) DO UPDATE SET name = excluded.name, argv = excluded.argv, cwd = excluded.cwd,
			env_keys = excluded.env_keys, tty = excluded.tty, state = excluded.state, pid = excluded.pid,
			exit_code = excluded.exit_code, signal = excluded.signal, diagnostics = excluded.diagnostics,
			created_at = excluded.created_at, started_at = excluded.started_at, ended_at = excluded.ended_at,
			updated_at = excluded.updated_at`,
		s.ID, s.VMID, s.Name, jsonList(s.Argv), s.Cwd, jsonList(s.EnvKeys), s.TTY, s.State, s.PID, exit,
		s.Signal, jsonList(s.Diagnostics), formatTime(created), formatOptionalTime(s.StartedAt),
		formatOptionalTime(s.EndedAt), formatTime(t))
	if err != nil {
		return err
	}
	s.CreatedAt, s.UpdatedAt = created, t
	return nil
}

func checkSession(s *Session) error {
	switch {
	case s.ID == "":
		return errors.New("empty session id")
	case s.VMID == "":
		return errors.New("empty vm id")
	case s.State == "":
		return errors.New("empty state")
	}
	return nil
}

// PutSession records s (keyed by VMID and ID), replacing the stored row
// of the same session: idempotent, a second call with the same values only
// moves UpdatedAt. A zero CreatedAt is set to now. A VMID naming no VM
// gives ErrNotFound. Another session of the VM holding the same name is
// dropped (the guest, which enforces names, is the source of truth).
func (s *Store) PutSession(ctx context.Context, sess *Session) error {
	if err := checkSession(sess); err != nil {
		return fmt.Errorf("recording session %s: %w", sess.ID, err)
	}
	t := now()
	err := s.withTx(ctx, func(tx *sql.Tx) error { return putSession(ctx, tx, sess, t) })
	if isForeignKey(err) {
		return fmt.Errorf("recording session %s: vm %s: %w", sess.ID, sess.VMID, ErrNotFound)
	}
	return s.wrap(err, "recording session %s", sess.ID)
}

// ReplaceSessions makes the VM's recorded sessions exactly ss, in one
// transaction: rows for sessions not in ss are deleted, the others are
// upserted as by PutSession. Idempotent. Used to resynchronise with the
// guest's list. A vmID naming no VM gives ErrNotFound.
func (s *Store) ReplaceSessions(ctx context.Context, vmID string, ss []Session) error {
	for i := range ss {
		ss[i].VMID = vmID
		if err := checkSession(&ss[i]); err != nil {
			return fmt.Errorf("replacing sessions of vm %s: %w", vmID, err)
		}
	}
	t := now()
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		ids, err := json.Marshal(sessionIDs(ss))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE vm_id = ? AND id NOT IN (SELECT value FROM json_each(?))`,
			vmID, string(ids)); err != nil {
			return err
		}
		for i := range ss {
			if err := putSession(ctx, tx, &ss[i], t); err != nil {
				return err
			}
		}
		return nil
	})
	if isForeignKey(err) {
		return fmt.Errorf("replacing sessions of vm %s: %w", vmID, ErrNotFound)
	}
	return s.wrap(err, "replacing sessions of vm %s", vmID)
}

func sessionIDs(ss []Session) []string {
	ids := make([]string, 0, len(ss))
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

// GetSession finds a session of the VM by id, or else by name.
func (s *Store) GetSession(ctx context.Context, vmID, idOrName string) (*Session, error) {
	return ptr(queryOne(ctx, s, scanSession, "getting session "+idOrName,
		`SELECT `+sessionColumns+` FROM sessions WHERE vm_id = ?1 AND (id = ?2 OR name = ?2)
		ORDER BY id = ?2 DESC LIMIT 1`, vmID, idOrName))
}

// ListSessions returns the sessions of one VM, or of every VM when vmID is
// "", oldest first.
func (s *Store) ListSessions(ctx context.Context, vmID string) ([]Session, error) {
	return queryAll(ctx, s, scanSession, "listing sessions",
		`SELECT `+sessionColumns+` FROM sessions WHERE ?1 = '' OR vm_id = ?1 ORDER BY created_at, id`, vmID)
}

// DeleteSession forgets one session. Not idempotent: an absent session
// gives ErrNotFound (callers removing may treat that as success).
func (s *Store) DeleteSession(ctx context.Context, vmID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE vm_id = ? AND id = ?`, vmID, id)
	if err != nil {
		return s.wrap(err, "deleting session %s", id)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(err, "deleting session %s", id)
	}
	if n == 0 {
		return fmt.Errorf("deleting session %s: %w", id, ErrNotFound)
	}
	return nil
}
