// Package store is banger's persistent state: kernels, images, VMs, IP
// leases and the host objects banger created. It is one SQLite file (pure Go
// driver modernc.org/sqlite) in WAL mode, shared safely by several processes:
// every write runs in a BEGIN IMMEDIATE transaction and waits up to the busy
// timeout for the write lock.
//
// The store knows nothing of drivers or networking; callers adapt it (the
// daemon wraps the host-object methods into a hostnet.Recorder).
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors of the database file itself; callers check with errors.Is.
var (
	// ErrLocked: another process held the database's write lock for longer
	// than the busy timeout.
	ErrLocked = errors.New("database is locked")
	// ErrCorrupt: the file is not a usable SQLite database.
	ErrCorrupt = errors.New("database file is corrupt or not a SQLite database")
)

// DefaultBusyTimeout is how long an operation waits for another process's
// write lock before failing with ErrLocked.
const DefaultBusyTimeout = 5 * time.Second

// Option configures Open.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
}

// WithBusyTimeout sets how long an operation waits for a lock held by
// another connection or process before failing with ErrLocked.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// Store is an open banger database. It is safe for concurrent use by many
// goroutines, and the same file may be opened by several processes.
type Store struct {
	db          *sql.DB
	path        string
	busyTimeout time.Duration

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database at path and applies pending
// migrations, each in its own transaction. The parent directory is created
// with mode 0700. Opening an up-to-date database takes no write lock.
//
// A file that is not a SQLite database yields an error wrapping ErrCorrupt;
// a lock held elsewhere for longer than the busy timeout yields ErrLocked.
// Both name the path.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{busyTimeout: DefaultBusyTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" {
		return nil, errors.New("opening store: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("creating store directory %s: %w", filepath.Dir(abs), err)
	}
	db, err := sql.Open("sqlite", dsn(abs, o.busyTimeout))
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", abs, err)
	}
	// A handful of connections is plenty: WAL lets them read concurrently,
	// and writes are serialised by SQLite anyway.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(2)
	s := &Store{db: db, path: abs, busyTimeout: o.busyTimeout}
	if err := s.open(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return s.wrap(err, "opening store %s", s.path)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("opening store %s: journal mode is %q, want wal (is the file on a filesystem without shared memory support?)", s.path, mode)
	}
	// The header check above reads only page 1; a schema query catches
	// files whose later pages are garbage.
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return s.wrap(err, "reading schema of store %s", s.path)
	}
	return s.migrate(ctx)
}

// dsn builds a file: URI so that any path (spaces, '?', '#') survives.
// The pragmas run on every new pooled connection; busy_timeout first.
func dsn(path string, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database. Idempotent: later calls return the first
// call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("closing store %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// withTx runs fn in a BEGIN IMMEDIATE transaction (the DSN's _txlock), so
// that the write lock is taken up front and waits on the busy timeout rather
// than failing on a stale snapshot. fn's error is returned unwrapped.
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// wrap turns SQLite's busy and corruption codes into ErrLocked/ErrCorrupt
// with advice, and wraps everything with the operation's gerund phrase.
// Sentinel errors produced by the store itself pass through wrapped.
func (s *Store) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	op := fmt.Sprintf(format, args...)
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%s: %w: %s stayed locked by another connection for more than %s (is another banger daemon running?)",
			op, ErrLocked, s.path, s.busyTimeout)
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("%s: %w: %s (%v); move it aside (mv %s %s.corrupt) so banger starts with an empty one, or restore it from a backup",
			op, ErrCorrupt, s.path, err, s.path, s.path)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isUnique reports a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKey reports a FOREIGN KEY violation. ON DELETE RESTRICT reports
// it as SQLITE_CONSTRAINT_TRIGGER, so the message is checked too.
func isForeignKey(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY ||
		(c&0xff == sqlite3.SQLITE_CONSTRAINT && strings.Contains(err.Error(), "FOREIGN KEY"))
}

// newID returns a random 16-hex-digit id.
func newID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Times are stored as fixed-width UTC text, so they sort and read well.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing stored time %q: %w", s, err)
	}
	return t, nil
}

// now is truncated to what the layout keeps, so values round-trip exactly.
func now() time.Time { return time.Now().UTC().Round(0) }

// nullable stores "" as NULL (for optional foreign keys).
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryOne runs a single-row query; no row gives ErrNotFound wrapped with op.
func queryOne[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), op, query string, args ...any) (T, error) {
	v, err := scan(s.db.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return v, s.wrap(err, "%s", op)
}

// ptr returns a pointer to v, or nil with err.
func ptr[T any](v T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), op, query string, args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.wrap(err, "%s", op)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.wrap(err, "%s", op)
		}
		out = append(out, v)
	}
	return out, s.wrap(rows.Err(), "%s", op)
}
