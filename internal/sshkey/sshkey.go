// Package sshkey manages banger's per-install SSH key pair, whose public half
// goes into every image and whose private half lets banger and its users
// log into guests.
package sshkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// Pair is the on-disk key pair.
type Pair struct {
	PrivatePath string
	PublicPath  string
}

// Ensure creates the key pair in dir (id_ed25519, id_ed25519.pub) if it does
// not exist yet. Idempotent: an existing pair is kept as it is.
func Ensure(dir string) (Pair, error) {
	p := Pair{PrivatePath: filepath.Join(dir, "id_ed25519"), PublicPath: filepath.Join(dir, "id_ed25519.pub")}
	if _, err := os.Stat(p.PrivatePath); err == nil {
		if _, err := os.Stat(p.PublicPath); err == nil {
			return p, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return p, fmt.Errorf("checking SSH key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return p, fmt.Errorf("creating SSH key dir: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return p, fmt.Errorf("generating SSH key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "banger")
	if err != nil {
		return p, fmt.Errorf("encoding SSH key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return p, fmt.Errorf("encoding SSH public key: %w", err)
	}
	if err := writeAtomic(p.PrivatePath, pem.EncodeToMemory(block), 0o600); err != nil {
		return p, err
	}
	if err := writeAtomic(p.PublicPath, ssh.MarshalAuthorizedKey(sshPub), 0o644); err != nil {
		return p, err
	}
	return p, nil
}

// PublicKey returns the authorized_keys line of the pair.
func (p Pair) PublicKey() ([]byte, error) { return os.ReadFile(p.PublicPath) }

// Signer loads the private key for an SSH client.
func (p Pair) Signer() (ssh.Signer, error) {
	data, err := os.ReadFile(p.PrivatePath)
	if err != nil {
		return nil, fmt.Errorf("reading SSH key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("parsing SSH key %s: %w", p.PrivatePath, err)
	}
	return s, nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}
