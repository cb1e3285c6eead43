package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMirrorOneLine(t *testing.T) {
	const list = `# comment
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://one.example/debian/ bookworm-updates main
deb http://two.example/debian bookworm contrib
deb [ trusted=yes ] http://three.example/debian bookworm main contrib # trailing
deb http://four.example/debian bookworm main
`
	if got := mirrorFromOneLine(strings.NewReader(list), "bookworm"); got != "http://three.example/debian" {
		t.Errorf("mirror = %q, want http://three.example/debian", got)
	}
	if got := mirrorFromOneLine(strings.NewReader(list), "trixie"); got != "" {
		t.Errorf("mirror for trixie = %q, want none", got)
	}
}

func TestMirrorDeb822(t *testing.T) {
	const sources = `Types: deb
# a comment inside a stanza
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src deb
URIs: http://off.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb
URIs: http://mirror.example/debian/
 http://second.example/debian
Suites: bookworm
 bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`
	if got := mirrorFromDeb822(strings.NewReader(sources), "bookworm"); got != "http://mirror.example/debian" {
		t.Errorf("mirror = %q, want http://mirror.example/debian", got)
	}
	if got := mirrorFromDeb822(strings.NewReader(sources), "bookworm-updates"); got != "http://mirror.example/debian" {
		t.Errorf("mirror via a continuation line = %q", got)
	}
	if got := mirrorFromDeb822(strings.NewReader(sources), "bookworm-security"); got != "http://security.example/debian-security" {
		t.Errorf("security mirror = %q", got)
	}
}

// findMirror reads sources.list before sources.list.d, and ignores files
// with other suffixes (such as disabled ones).
func TestFindMirrorOrder(t *testing.T) {
	apt := t.TempDir()
	writeFile(t, filepath.Join(apt, "sources.list.d", "a.list.disabled"), []byte("deb http://disabled.example/debian bookworm main\n"), 0o644)
	writeFile(t, filepath.Join(apt, "sources.list.d", "b.sources"), []byte("Types: deb\nURIs: http://d.example/debian\nSuites: bookworm\nComponents: main\n"), 0o644)
	if got, err := findMirror(apt, "bookworm"); err != nil || got != "http://d.example/debian" {
		t.Errorf("findMirror = %q, %v", got, err)
	}
	writeFile(t, filepath.Join(apt, "sources.list"), []byte("deb http://main.example/debian bookworm main\n"), 0o644)
	if got, err := findMirror(apt, "bookworm"); err != nil || got != "http://main.example/debian" {
		t.Errorf("findMirror = %q, %v", got, err)
	}
	if _, err := findMirror(apt, "sid"); err == nil || !strings.Contains(err.Error(), `"sid"`) {
		t.Errorf("findMirror(sid) = %v, want an error naming the suite", err)
	}
}

func TestInputHash(t *testing.T) {
	dir := t.TempDir()
	agent := filepath.Join(dir, "banger-agent")
	writeFile(t, agent, []byte("agent v1"), 0o755)
	extra := filepath.Join(dir, "tree")
	writeFile(t, filepath.Join(extra, "bin/tool"), []byte("tool"), 0o755)
	base := BootstrapSpec{
		Mirror:       "http://mirror.example/debian",
		Packages:     []string{"git", "curl"},
		SSHPublicKey: "ssh-ed25519 AAAA test",
		AgentBinary:  agent,
		ExtraFiles:   []ExtraFile{{Source: extra, Dest: "/opt/tree"}},
	}
	hash := func(s BootstrapSpec) string {
		t.Helper()
		h, err := InputHash(s)
		if err != nil {
			t.Fatalf("InputHash: %v", err)
		}
		return h
	}
	h0 := hash(base)
	if len(h0) != 64 {
		t.Fatalf("hash %q is not hex sha256", h0)
	}

	same := base
	same.Packages = []string{"curl", "git", "curl"} // order and duplicates do not matter
	same.Suite = DefaultSuite                       // the default, spelled out
	if hash(same) != h0 {
		t.Error("equivalent specs hash differently")
	}

	changes := map[string]func(*BootstrapSpec){
		"suite":      func(s *BootstrapSpec) { s.Suite = "trixie" },
		"mirror":     func(s *BootstrapSpec) { s.Mirror = "http://other.example/debian" },
		"packages":   func(s *BootstrapSpec) { s.Packages = []string{"git"} },
		"key":        func(s *BootstrapSpec) { s.SSHPublicKey = "ssh-ed25519 BBBB test" },
		"size":       func(s *BootstrapSpec) { s.SizeBytes = 3 << 30 },
		"hostname":   func(s *BootstrapSpec) { s.Hostname = "box" },
		"no agent":   func(s *BootstrapSpec) { s.AgentBinary = "" },
		"extra dest": func(s *BootstrapSpec) { s.ExtraFiles = []ExtraFile{{Source: extra, Dest: "/opt/other"}} },
	}
	for name, change := range changes {
		s := base
		change(&s)
		if hash(s) == h0 {
			t.Errorf("changing %s leaves the hash unchanged", name)
		}
	}

	// Contents count, not only names.
	writeFile(t, agent, []byte("agent v2"), 0o755)
	h1 := hash(base)
	if h1 == h0 {
		t.Error("a new agent binary leaves the hash unchanged")
	}
	if err := os.WriteFile(filepath.Join(extra, "bin/tool"), []byte("tool2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if hash(base) == h1 {
		t.Error("a changed extra file leaves the hash unchanged")
	}

	bad := base
	bad.SSHPublicKey = ""
	if _, err := InputHash(bad); err == nil {
		t.Error("InputHash accepted a spec without an SSH key")
	}
	bad = base
	bad.AgentBinary = filepath.Join(dir, "missing")
	if _, err := InputHash(bad); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("InputHash with a missing agent: %v", err)
	}
}
