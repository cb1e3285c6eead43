package daemon_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"banger/internal/daemon"
	"banger/internal/hostnet"
	"banger/internal/store"
)

func TestStoreRecorderRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "banger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := daemon.StoreRecorder{Store: st}
	tap := hostnet.Object{Kind: hostnet.KindTap, Name: "bg-tap0", Owner: "vm1"}
	br := hostnet.Object{Kind: hostnet.KindBridge, Name: "banger0"}
	for _, o := range []hostnet.Object{tap, br, tap} { // Record is idempotent
		if err := rec.Record(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := rec.Objects(ctx)
	if err != nil || len(objs) != 2 || !slices.Contains(objs, tap) || !slices.Contains(objs, br) {
		t.Fatalf("Objects = %+v, %v; want the tap and the bridge once each", objs, err)
	}
	for range 2 { // Forget is idempotent
		if err := rec.Forget(ctx, hostnet.KindTap, "bg-tap0"); err != nil {
			t.Fatal(err)
		}
	}
	objs, err = rec.Objects(ctx)
	if err != nil || !slices.Equal(objs, []hostnet.Object{br}) {
		t.Fatalf("Objects after Forget = %+v, %v; want only the bridge", objs, err)
	}
}
