package sshkey

import (
	"bytes"
	"os"
	"testing"
)

func TestEnsureCreatesOnceAndKeeps(t *testing.T) {
	dir := t.TempDir()
	p, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p.PrivatePath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", fi, err)
	}
	pub1, _ := p.PublicKey()
	s, err := p.Signer()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pub1, []byte("ssh-ed25519 ")) || s.PublicKey().Type() != "ssh-ed25519" {
		t.Fatalf("unexpected key: %s", pub1)
	}
	p2, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	pub2, _ := p2.PublicKey()
	if !bytes.Equal(pub1, pub2) {
		t.Fatal("second Ensure replaced the key")
	}
}
