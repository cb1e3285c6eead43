package store

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func sessionFixture(t *testing.T) (*Store, VM) {
	t.Helper()
	s := openTest(t, filepath.Join(t.TempDir(), "banger.db"))
	return s, mustCreateVM(t, s, VM{Name: "dev"})
}

func TestSessionRoundTripByIDAndName(t *testing.T) {
	ctx := context.Background()
	s, vm := sessionFixture(t)
	code := 137
	started := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	want := Session{ID: "s-1", VMID: vm.ID, Name: "agent", Argv: []string{"sh", "-c", "echo hi"}, Cwd: "/root",
		EnvKeys: []string{"A", "B"}, TTY: true, State: SessionExited, PID: 42, ExitCode: &code, Signal: "KILL",
		Diagnostics: []string{"boom"}, StartedAt: started, EndedAt: started.Add(time.Second)}
	if err := s.PutSession(ctx, &want); err != nil {
		t.Fatal(err)
	}
	if want.CreatedAt.IsZero() || want.UpdatedAt.IsZero() {
		t.Fatalf("PutSession did not fill times: %+v", want)
	}
	for _, key := range []string{"s-1", "agent"} {
		got, err := s.GetSession(ctx, vm.ID, key)
		if err != nil {
			t.Fatalf("GetSession(%s): %v", key, err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("GetSession(%s) = %+v\nwant %+v", key, *got, want)
		}
	}
	if _, err := s.GetSession(ctx, vm.ID, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSession(nope) = %v, want ErrNotFound", err)
	}
	// A running session has no exit code: NULL round-trips as nil.
	run := Session{ID: "s-2", VMID: vm.ID, Argv: []string{"sleep", "9"}, State: SessionRunning}
	if err := s.PutSession(ctx, &run); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx, vm.ID, "s-2")
	if err != nil || got.ExitCode != nil || !got.EndedAt.IsZero() || len(got.EnvKeys) != 0 {
		t.Fatalf("running session read back as %+v, %v", got, err)
	}
}

func TestPutSessionUpsertsAndStaleNameYields(t *testing.T) {
	ctx := context.Background()
	s, vm := sessionFixture(t)
	a := Session{ID: "s-a", VMID: vm.ID, Name: "work", Argv: []string{"x"}, State: SessionRunning}
	if err := s.PutSession(ctx, &a); err != nil {
		t.Fatal(err)
	}
	created := a.CreatedAt
	a.State = SessionExited
	if err := s.PutSession(ctx, &a); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetSession(ctx, vm.ID, "s-a"); got.State != SessionExited || !got.CreatedAt.Equal(created) {
		t.Fatalf("after update: %+v", got)
	}
	// The guest reused the name for a new session: the stale row goes.
	b := Session{ID: "s-b", VMID: vm.ID, Name: "work", Argv: []string{"y"}, State: SessionRunning}
	if err := s.PutSession(ctx, &b); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListSessions(ctx, vm.ID)
	if err != nil || len(all) != 1 || all[0].ID != "s-b" {
		t.Fatalf("ListSessions = %+v, %v; want only s-b", all, err)
	}
}

func TestPutSessionUnknownVM(t *testing.T) {
	s, _ := sessionFixture(t)
	err := s.PutSession(context.Background(), &Session{ID: "s", VMID: "nope", Argv: []string{"x"}, State: SessionRunning})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("PutSession on unknown VM = %v, want ErrNotFound", err)
	}
	if err := s.PutSession(context.Background(), &Session{ID: "s", VMID: "nope"}); err == nil {
		t.Fatal("PutSession without a state succeeded")
	}
}

func TestReplaceSessionsAndCascade(t *testing.T) {
	ctx := context.Background()
	s, vm := sessionFixture(t)
	other := mustCreateVM(t, s, VM{Name: "other"})
	for _, x := range []Session{
		{ID: "s-1", VMID: vm.ID, Argv: []string{"a"}, State: SessionRunning},
		{ID: "s-2", VMID: vm.ID, Argv: []string{"b"}, State: SessionRunning},
		{ID: "s-9", VMID: other.ID, Argv: []string{"c"}, State: SessionRunning},
	} {
		if err := s.PutSession(ctx, &x); err != nil {
			t.Fatal(err)
		}
	}
	guest := []Session{{ID: "s-2", Argv: []string{"b"}, State: SessionExited}, {ID: "s-3", Argv: []string{"d"}, State: SessionRunning}}
	for range 2 { // idempotent
		if err := s.ReplaceSessions(ctx, vm.ID, guest); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListSessions(ctx, vm.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range got {
		ids = append(ids, x.ID+"="+x.State)
	}
	if !reflect.DeepEqual(ids, []string{"s-2=exited", "s-3=running"}) {
		t.Errorf("after ReplaceSessions: %v", ids)
	}
	if all, _ := s.ListSessions(ctx, ""); len(all) != 3 {
		t.Errorf("ListSessions(all) = %d rows, want 3 (other VM untouched)", len(all))
	}
	if err := s.DeleteVM(ctx, vm.ID); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.ListSessions(ctx, ""); len(all) != 1 || all[0].ID != "s-9" {
		t.Errorf("sessions after deleting their VM: %+v", all)
	}
	if err := s.DeleteSession(ctx, other.ID, "s-9"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, other.ID, "s-9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteSession = %v, want ErrNotFound", err)
	}
}
