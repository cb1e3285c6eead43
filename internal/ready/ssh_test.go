package ready

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serveSSH runs a minimal sshd on ln accepting only key, answering every
// exec request with exit status 0.
func serveSSH(t *testing.T, ln net.Listener, key ssh.PublicKey) {
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == string(key.Marshal()) {
			return nil, nil
		}
		return nil, net.ErrClosed
	}}
	cfg.AddHostKey(newSigner(t))
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			_, chans, reqs, err := ssh.NewServerConn(c, cfg)
			if err != nil {
				return
			}
			go ssh.DiscardRequests(reqs)
			for nc := range chans {
				ch, rq, _ := nc.Accept()
				go func() {
					for r := range rq {
						r.Reply(r.Type == "exec", nil)
						if r.Type == "exec" {
							ch.SendRequest("exit-status", false, ssh.Marshal(struct{ S uint32 }{0}))
							ch.Close()
						}
					}
				}()
			}
		}()
	}
}

func TestSSHWaitsForTheServer(t *testing.T) {
	signer := newSigner(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens yet: the probe must keep trying
	time.AfterFunc(500*time.Millisecond, func() {
		ln2, err := net.Listen("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		t.Cleanup(func() { ln2.Close() })
		go serveSSH(t, ln2, signer.PublicKey())
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := SSH{Signer: signer, Port: port, Interval: 50 * time.Millisecond}
	if err := p.Wait(ctx, "vm", netip.MustParseAddr("127.0.0.1"), nil); err != nil {
		t.Fatal(err)
	}
}

func TestSSHWrongKeyTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveSSH(t, ln, newSigner(t).PublicKey())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	p := SSH{Signer: newSigner(t), Port: ln.Addr().(*net.TCPAddr).Port, Interval: 50 * time.Millisecond}
	err = p.Wait(ctx, "vm", netip.MustParseAddr("127.0.0.1"), nil)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("want an auth failure at the deadline, got %v", err)
	}
}
