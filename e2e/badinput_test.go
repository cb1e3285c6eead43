package e2e

import (
	"strings"
	"testing"
)

// TestCreateBadInput: each bad request gets a clear error and a non-zero
// exit, and leaves no VM row, tap, lease, disk or process behind.
func TestCreateBadInput(t *testing.T) {
	e := newEnv(t)
	e.run("kernel", "import", "--name", "k")
	e.run("image", "bootstrap", "--name", "base", "--kernel", "k", "-q")

	cases := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown image", []string{"vm", "create", "a", "--image", "nope"}, "banger image ls"},
		{"unknown kernel", []string{"vm", "create", "a", "--image", "base", "--kernel", "nope"}, "banger kernel ls"},
		{"too many vcpus for the API", []string{"vm", "create", "a", "--image", "base", "--cpus", "999"}, "vcpus"},
		{"too many vcpus for a VM", []string{"vm", "create", "a", "--image", "base", "--cpus", "40"}, "vcpus"},
		{"too little memory", []string{"vm", "create", "a", "--image", "base", "--memory", "16"}, "memory"},
		{"disk smaller than image", []string{"vm", "create", "a", "--image", "base", "--disk-size", "1M"}, "smaller than image"},
		{"unparsable disk size", []string{"vm", "create", "a", "--image", "base", "--disk-size", "lots"}, "disk_size"},
		{"missing VMM binary", []string{"vm", "create", "a", "--image", "base", "--vmm", "firecracker"}, "doctor"},
		{"unknown VMM", []string{"vm", "create", "a", "--image", "base", "--vmm", "bochs"}, "bochs"},
		{"slash in name", []string{"vm", "create", "a/b", "--image", "base"}, "not allowed"},
		{"space in name", []string{"vm", "create", "a b", "--image", "base"}, "not allowed"},
		{"kernel that is not a kernel", []string{"kernel", "import", "--name", "bad", "--kernel", "/etc/hostname"}, "kernel"},
		{"missing kernel file", []string{"kernel", "import", "--name", "bad", "--kernel", "no-such-vmlinuz"}, "no-such-vmlinuz"},
		{"duplicate kernel", []string{"kernel", "import", "--name", "k"}, "already exists"},
		{"stop of unknown VM", []string{"vm", "stop", "ghost"}, "ghost"},
		{"ssh to unknown VM", []string{"vm", "ssh", "ghost", "--", "true"}, "ghost"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.try(c.args...)
			if err == nil {
				t.Fatalf("banger %v succeeded", c.args)
			}
			if !strings.Contains(err.Error(), "exit status") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want a non-zero exit mentioning %q, got: %v", c.want, err)
			}
			t.Logf("%v", err)
			if out := strings.TrimSpace(e.run("vm", "ls", "-o", "json")); out != "[]" {
				t.Fatalf("VM rows left: %s", out)
			}
			if ks := e.run("kernel", "ls", "-o", "json"); strings.Contains(ks, `"bad"`) {
				t.Fatalf("half-imported kernel recorded: %s", ks)
			}
		})
	}
	e.run("system", "teardown")
	e.assertNothingLeft(t, nil)
}
