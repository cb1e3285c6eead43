package hostnet

import (
	"context"
	"errors"
	"testing"
)

func TestFakeFailInjection(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	f := NewFake(Config{Bridge: "br", Table: "tb"}, nil)
	f.Fail = func(method, name string) error {
		if method == "EnsureTap" && name == "bgbad" {
			return boom
		}
		return nil
	}
	if err := f.EnsureBridge(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.EnsureTap(ctx, "bgbad", "vm"); !errors.Is(err, boom) {
		t.Fatalf("EnsureTap = %v, want the injected error", err)
	}
	if err := f.EnsureTap(ctx, "bggood", "vm"); err != nil {
		t.Fatal(err)
	}
	bridge, firewall, taps := f.State()
	if !bridge || firewall || len(taps) != 1 || taps["bggood"] != "vm" {
		t.Fatalf("State = %t, %t, %v; want bridge, no firewall, only bggood", bridge, firewall, taps)
	}
	objs, _ := f.Rec.Objects(ctx)
	if len(objs) != 2 {
		t.Fatalf("recorded %+v, want the bridge and bggood", objs)
	}
}
