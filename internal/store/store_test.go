package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// Helper-process mode (see TestAllocateLeaseProcesses): the test binary,
// re-run with these variables, opens the shared database, creates one VM and
// allocates its lease, then prints the address.
const (
	helperEnv   = "BANGER_STORE_HELPER"
	helperDB    = "BANGER_STORE_HELPER_DB"
	helperVM    = "BANGER_STORE_HELPER_VM"
	helperNet   = "BANGER_STORE_HELPER_SUBNET"
	helperAlloc = "allocate"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == helperAlloc {
		if err := helperAllocate(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helperAllocate() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	subnet, err := netip.ParsePrefix(os.Getenv(helperNet))
	if err != nil {
		return err
	}
	// 50 processes on 2 cores: be generous with the lock wait.
	s, err := Open(ctx, os.Getenv(helperDB), WithBusyTimeout(time.Minute))
	if err != nil {
		return err
	}
	defer s.Close()
	vm := &VM{Name: os.Getenv(helperVM)}
	if err := s.CreateVM(ctx, vm); err != nil {
		return err
	}
	a, err := s.AllocateLease(ctx, vm.ID, subnet, gatewayOf(subnet))
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n", vm.ID, a)
	return nil
}

func gatewayOf(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

func openTest(t *testing.T, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newTestStore(t *testing.T) *Store {
	return openTest(t, filepath.Join(t.TempDir(), "banger.db"))
}

func TestOpenCreatesDirAndSetsPragmas(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state", "nested")
	s := openTest(t, filepath.Join(dir, "banger.db"))
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("dir mode = %v, want 0700", perm)
	}
	var mode string
	var fk int
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || fk != 1 {
		t.Errorf("journal_mode=%q foreign_keys=%d, want wal and 1", mode, fk)
	}
}

func TestOpenPathWithSpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#%", "banger.db")
	s := openTest(t, path)
	if err := s.RecordHostObject(context.Background(), HostObject{Kind: "tap", Name: "t0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
}

func TestMigrationsFromEmptyAndReopen(t *testing.T) {
	ctx := context.Background()
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no embedded migrations")
	}
	path := filepath.Join(t.TempDir(), "banger.db")
	s := openTest(t, path)
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != len(ms) {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, len(ms))
	}
	for _, table := range []string{"kernels", "images", "vms", "leases", "host_objects"} {
		if _, err := s.db.ExecContext(ctx, "SELECT count(*) FROM "+table); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
	before := appliedMigrations(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openTest(t, path)
	after := appliedMigrations(t, s2)
	if len(after) != len(ms) || strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("reopen changed schema_migrations: before %v, after %v", before, after)
	}
}

// appliedMigrations returns "version name applied_at" per row.
func appliedMigrations(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.db.Query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v int
		var n, at string
		if err := rows.Scan(&v, &n, &at); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(v, " ", n, " ", at))
	}
	return out
}

func TestConcurrentOpenOfFreshFileMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "banger.db")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), path)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	ms, _ := loadMigrations(migrationFS)
	if got := appliedMigrations(t, openTest(t, path)); len(got) != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d: %v", len(got), len(ms), got)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "banger.db")
	s := openTest(t, path)
	if _, err := s.db.Exec("INSERT INTO schema_migrations VALUES (9999, '9999_future', '')"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "newer") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a newer schema: err = %v, want one naming the path and 'newer'", err)
	}
}

func TestLoadMigrationsRejectsGapsAndBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"duplicate": {"migrations/0001_a.sql": {}, "migrations/0001_b.sql": {}},
		"bad name":  {"migrations/init.sql": {}},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: loadMigrations accepted %v", name, fsys)
		}
	}
	ms, err := loadMigrations(fstest.MapFS{"migrations/0002_b.sql": {Data: []byte("B")}, "migrations/0001_a.sql": {Data: []byte("A")}})
	if err != nil || len(ms) != 2 || ms[0].sql != "A" || ms[1].name != "0002_b" {
		t.Errorf("loadMigrations = %+v, %v; want 0001_a then 0002_b", ms, err)
	}
}

func TestOpenCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "banger.db")
	garbage := make([]byte, 64<<10)
	rand.Read(garbage)
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), path)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open(random bytes) = %v, want ErrCorrupt", err)
	}
	for _, want := range []string{path, "move it aside"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestOpenDamagedSchemaPage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "banger.db")
	s := openTest(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the 100-byte header (so the file still looks like SQLite) and
	// scribble over the rest of page 1, the schema table's root.
	junk := make([]byte, 3000)
	for i := range junk {
		junk[i] = 0xA5
	}
	if _, err := f.WriteAt(junk, 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Open(context.Background(), path)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open(damaged) = %v, want ErrCorrupt naming %s", err, path)
	}
}

// holdWriteLock takes the write lock of the database at path on its own
// connection, as another banger process would, until the test ends.
func holdWriteLock(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS lock_holder (x)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.ExecContext(ctx, "ROLLBACK")
		conn.Close()
		raw.Close()
	})
}

func checkLocked(t *testing.T, err error, path string, elapsed, timeout time.Duration) {
	t.Helper()
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	for _, want := range []string{path, "database is locked"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if elapsed < timeout || elapsed > timeout+3*time.Second {
		t.Errorf("failed after %v, want about the busy timeout %v", elapsed, timeout)
	}
}

func TestWriteWhileLockedElsewhere(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "banger.db")
	openTest(t, path) // migrated, in WAL mode
	holdWriteLock(t, path)

	const timeout = 200 * time.Millisecond
	s := openTest(t, path, WithBusyTimeout(timeout)) // reads only: no lock needed
	if _, err := s.ListVMs(ctx); err != nil {
		t.Fatalf("reading while another connection writes: %v", err)
	}
	start := time.Now()
	err := s.CreateVM(ctx, &VM{Name: "blocked"})
	checkLocked(t, err, path, time.Since(start), timeout)
}

func TestOpenWhileLockedElsewhere(t *testing.T) {
	// A brand-new file still in rollback-journal mode: switching it to WAL
	// needs the lock the other connection holds.
	path := filepath.Join(t.TempDir(), "banger.db")
	holdWriteLock(t, path)
	const timeout = 200 * time.Millisecond
	start := time.Now()
	_, err := Open(context.Background(), path, WithBusyTimeout(timeout))
	checkLocked(t, err, path, time.Since(start), timeout)
}

func TestCloseIsIdempotent(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "banger.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.ListVMs(context.Background()); err == nil {
		t.Error("ListVMs after Close succeeded")
	}
}

func TestContextEndsLockWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "banger.db")
	openTest(t, path)
	holdWriteLock(t, path)
	s := openTest(t, path, WithBusyTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.CreateVM(ctx, &VM{Name: "waiting"})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("CreateVM under a held lock with a 200ms context = %v after %v, want DeadlineExceeded promptly",
			err, time.Since(start))
	}
}
