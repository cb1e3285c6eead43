package vm

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"banger/internal/agent/guest"
)

// With no ready probe given, a VM is ready when its guest agent answers;
// Agent hands out that connection and re-dials once it dies.
func TestAgentReadinessAndRedial(t *testing.T) {
	r := newRig(t)
	srv, err := guest.New(guest.Config{StateDir: t.TempDir(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dials := 0
	r.drv.agent = func(c net.Conn) {
		dials++
		_ = srv.ServeStream(ctx, c, true)
	}
	r.m.ready = agentProbe{r.m}

	if _, err := r.m.Create(ctx, req("ag")); err != nil {
		t.Fatal(err)
	}
	c, err := r.m.Agent(ctx, "ag")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := c.Ping(ctx); err != nil || info.AgentVersion != "test" {
		t.Fatalf("ping: %+v %v", info, err)
	}
	if dials != 1 {
		t.Fatalf("readiness and Agent should share one connection, dialled %d times", dials)
	}
	c.Close() // the connection dies: the next Agent call dials again
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("closed client not done")
	}
	c2, err := r.m.Agent(ctx, "ag")
	if err != nil || c2 == c {
		t.Fatalf("no fresh client after the old one died: %v", err)
	}
	if _, err := c2.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	if _, err := r.m.Stop(ctx, "ag"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Agent(ctx, "ag"); !errors.Is(err, ErrState) {
		t.Fatalf("Agent of a stopped VM: %v", err)
	}
}

func TestAgentReadinessFailsWhenAgentNeverAnswers(t *testing.T) {
	r := newRig(t)
	r.m.ready = agentProbe{r.m}
	r.m.opts.ReadyTimeout = 700 * time.Millisecond
	if _, err := r.m.Create(context.Background(), req("mute")); err == nil {
		t.Fatal("create succeeded with no guest agent")
	}
	r.assertNothingHeld(t)
}
