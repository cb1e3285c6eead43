package store

import (
	"context"
	"testing"
)

func TestHostObjectsRecordForget(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	objs := []HostObject{
		{Kind: "tap", Name: "bg-tap1", Owner: "vm1"},
		{Kind: "bridge", Name: "banger0"},
		{Kind: "tap", Name: "bg-tap0", Owner: "vm0"},
	}
	for _, o := range objs {
		if err := s.RecordHostObject(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.ListHostObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range first {
		keys = append(keys, o.Kind+"/"+o.Name+"@"+o.Owner)
		if o.CreatedAt.IsZero() {
			t.Errorf("%s/%s has no CreatedAt", o.Kind, o.Name)
		}
	}
	if got, want := keys, []string{"bridge/banger0@", "tap/bg-tap0@vm0", "tap/bg-tap1@vm1"}; len(got) != 3 ||
		got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("ListHostObjects = %v, want %v", got, want)
	}

	// Recording again is an upsert: same row, new owner, first CreatedAt kept.
	if err := s.RecordHostObject(ctx, HostObject{Kind: "tap", Name: "bg-tap0", Owner: "vm9"}); err != nil {
		t.Fatal(err)
	}
	again, err := s.ListHostObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 3 || again[1].Owner != "vm9" || !again[1].CreatedAt.Equal(first[1].CreatedAt) {
		t.Errorf("after re-record: %+v (before %+v)", again, first)
	}

	// Forget is idempotent, and unknown objects are fine.
	for range 2 {
		if err := s.ForgetHostObject(ctx, "tap", "bg-tap0"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ForgetHostObject(ctx, "tap", "never-recorded"); err != nil {
		t.Fatal(err)
	}
	left, err := s.ListHostObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0].Name != "banger0" || left[1].Name != "bg-tap1" {
		t.Errorf("after forget: %+v", left)
	}
	if err := s.RecordHostObject(ctx, HostObject{Kind: "tap"}); err == nil {
		t.Error("RecordHostObject accepted an empty name")
	}
}
