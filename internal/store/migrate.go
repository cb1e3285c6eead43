package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migrations are migrations/NNNN_name.sql, applied in order, each once, each
// in its own transaction together with its row in schema_migrations. Files
// are never edited once released: a change is a new file (agent sessions,
// for instance, will arrive as 0002_sessions.sql).
//
//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations parses and checks the embedded files: versions must be
// 1, 2, 3, ... without gaps or duplicates.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("listing migrations: %w", err)
	}
	var ms []migration
	for _, f := range files {
		base := path.Base(f)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("parsing migration file name %s: want NNNN_name.sql", base)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("checking migrations: %s has version %d, want %d (gap or duplicate)", m.name, m.version, i+1)
		}
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
) STRICT`

// SchemaVersion returns the highest applied migration version (0 for an
// empty database).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, s.db)
	return v, s.wrap(err, "reading schema version of %s", s.path)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var n int
	err := q.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	if err != nil || n == 0 {
		return 0, err
	}
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// migrate applies pending migrations. When nothing is pending it only reads,
// so opening a current database never waits for another process's write.
// Each migration re-checks the version inside its write transaction, so two
// processes opening a fresh file at once apply each migration exactly once.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		return err
	}
	latest := len(ms)
	cur, err := schemaVersion(ctx, s.db)
	if err != nil {
		return s.wrap(err, "reading schema version of %s", s.path)
	}
	if cur > latest {
		return fmt.Errorf("opening store %s: schema version %d is newer than this banger knows (%d); run a newer banger", s.path, cur, latest)
	}
	for _, m := range ms[cur:] {
		if err := s.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

var errApplied = errors.New("migration already applied")

func (s *Store) apply(ctx context.Context, m migration) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
			return err
		}
		cur, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		if cur >= m.version {
			return errApplied
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, formatTime(now()))
		return err
	})
	if errors.Is(err, errApplied) {
		return nil
	}
	return s.wrap(err, "applying migration %s to %s", m.name, s.path)
}
