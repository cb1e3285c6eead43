package vm

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"banger/internal/agent/host"
	"banger/internal/vmm"
)

// agentConn is the shared guest-agent client of one running VM.
type agentConn struct {
	mu sync.Mutex
	c  *host.Client
}

// Agent returns the connected guest-agent client of a running VM, dialling
// it (and re-dialling after the previous connection died) as needed. Safe
// for concurrent use; the client is shared, so callers must not Close it.
func (m *Manager) Agent(ctx context.Context, idOrName string) (*host.Client, error) {
	v, err := m.store.GetVM(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	inst := m.instance(v.ID)
	if inst == nil || !inst.Running() {
		return nil, fmt.Errorf("%w: VM %s is %s: start it with `banger vm start %s`", ErrState, v.Name, v.State, v.Name)
	}
	return m.agentFor(ctx, v.ID, inst)
}

func (m *Manager) agentFor(ctx context.Context, id string, inst vmm.Instance) (*host.Client, error) {
	m.mu.Lock()
	ac := m.agents[id]
	if ac == nil {
		ac = &agentConn{}
		m.agents[id] = ac
	}
	m.mu.Unlock()

	ac.mu.Lock()
	defer ac.mu.Unlock()
	if ac.c != nil {
		select {
		case <-ac.c.Done():
			ac.c = nil
		default:
			return ac.c, nil
		}
	}
	c, err := host.Dial(ctx, inst.DialAgent)
	if err != nil {
		return nil, fmt.Errorf("connecting to the guest agent: %w", err)
	}
	ac.c = c
	return c, nil
}

// dropAgent closes and forgets a VM's agent client. Idempotent.
func (m *Manager) dropAgent(id string) {
	m.mu.Lock()
	ac := m.agents[id]
	delete(m.agents, id)
	m.mu.Unlock()
	if ac == nil {
		return
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if ac.c != nil {
		ac.c.Close()
		ac.c = nil
	}
}

// agentProbe: a guest is ready when its agent answers ping. The connection
// it makes is the one Agent hands out later (a QEMU serial channel takes
// one connection at a time).
type agentProbe struct{ m *Manager }

func (p agentProbe) Wait(ctx context.Context, id string, _ netip.Addr, inst vmm.Instance) error {
	var last error
	for {
		if !inst.Running() {
			return fmt.Errorf("the VMM process exited before the guest agent answered (last error: %v)", last)
		}
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := p.m.agentFor(actx, id, inst)
		if err == nil {
			_, err = c.Ping(actx)
			if err != nil {
				p.m.dropAgent(id)
			}
		}
		cancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("guest agent did not answer before the deadline: %v", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
