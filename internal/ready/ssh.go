// Package ready decides when a booted guest is ready for use.
package ready

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"

	"banger/internal/vmm"
)

// SSH is ready when the guest's sshd accepts banger's key and runs `true`.
type SSH struct {
	Signer ssh.Signer
	User   string // default root
	Port   int    // default 22
	// Interval between attempts; default 200ms.
	Interval time.Duration
}

// Wait polls until the guest answers, the instance dies, or ctx ends.
func (s SSH) Wait(ctx context.Context, _ string, addr netip.Addr, inst vmm.Instance) error {
	interval := s.Interval
	if interval == 0 {
		interval = 200 * time.Millisecond
	}
	var last error
	for {
		if inst != nil && !inst.Running() {
			return fmt.Errorf("the VMM process exited before the guest was ready (last SSH error: %v)", last)
		}
		err := s.try(ctx, addr)
		if err == nil {
			return nil
		}
		// An attempt cut short by the deadline says less than the one
		// before it (e.g. "unable to authenticate"): keep that one.
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("guest %s not reachable over SSH before the deadline: %v", addr, last)
		case <-time.After(interval):
		}
	}
}

func (s SSH) try(ctx context.Context, addr netip.Addr) error {
	user, port := s.User, s.Port
	if user == "" {
		user = "root"
	}
	if port == 0 {
		port = 22
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", net.JoinHostPort(addr.String(), strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := dctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	cfg := &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(s.Signer)},
		// Guests are fresh VMs on banger's private bridge whose host keys
		// are made at first boot; there is nothing to pin yet.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr.String(), cfg)
	if err != nil {
		return err
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	return sess.Run("true")
}
