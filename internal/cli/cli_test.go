package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"banger/internal/api"
	"banger/internal/cli"
	"banger/internal/daemon"
	"banger/internal/daemon/daemontest"
	"banger/internal/hostnet"
	"banger/internal/store"
)

// run executes `banger args...` in-process, as main does.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Execute(context.Background(), cli.NewRoot("test"), args, &out, &errb)
	return code, out.String(), errb.String()
}

// isolate keeps the developer's environment out of the test.
func isolate(t *testing.T) {
	t.Setenv("BANGER_SOCKET", "")
	t.Setenv("BANGER_CONFIG", "")
}

func fixture() *daemontest.Store {
	return &daemontest.Store{
		Kernels: []store.Kernel{{ID: "k1", Name: "cloud", Version: "6.1"}},
		Images:  []store.Image{{ID: "i1", Name: "bookworm", KernelID: "k1", SizeBytes: 3 << 30}},
		VMs: []store.VM{
			{ID: "v1", Name: "dev", State: store.VMStopped, ImageID: "i1", KernelID: "k1", VCPUs: 2, MemoryMiB: 1024, CreatedAt: time.Now()},
			{ID: "v2", Name: "busy", State: store.VMRunning, ImageID: "i1", KernelID: "k1"},
		},
	}
}

func TestListAndShow(t *testing.T) {
	isolate(t)
	sock := daemontest.Start(t, daemon.Deps{Store: fixture()})

	code, out, errs := run(t, "--socket", sock, "vm", "ls")
	if code != 0 || !strings.HasPrefix(out, "NAME ") || !strings.Contains(out, "bookworm") || errs != "" {
		t.Errorf("vm ls = %d %q %q", code, out, errs)
	}
	code, out, _ = run(t, "--socket", sock, "vm", "ls", "-o", "json")
	var vms []api.VM
	if err := json.Unmarshal([]byte(out), &vms); code != 0 || err != nil || len(vms) != 2 {
		t.Errorf("vm ls -o json = %d %q (%v)", code, out, err)
	}
	code, out, _ = run(t, "--socket", sock, "vm", "show", "dev")
	if code != 0 || !strings.Contains(out, "Image:") || !strings.Contains(out, "bookworm") {
		t.Errorf("vm show dev = %d %q", code, out)
	}
	code, out, _ = run(t, "--socket", sock, "image", "show", "bookworm", "-o", "json")
	var img api.Image
	if err := json.Unmarshal([]byte(out), &img); code != 0 || err != nil || img.Kernel != "cloud" {
		t.Errorf("image show -o json = %d %q (%v)", code, out, err)
	}
	code, out, _ = run(t, "--socket", sock, "image", "ls")
	if code != 0 || !strings.Contains(out, "3.0GiB") {
		t.Errorf("image ls = %d %q", code, out)
	}
	code, out, _ = run(t, "--socket", sock, "kernel", "ls", "-o", "table")
	if code != 0 || !strings.Contains(out, "6.1") {
		t.Errorf("kernel ls = %d %q", code, out)
	}
	code, out, _ = run(t, "--socket", sock, "kernel", "show", "cloud")
	if code != 0 || !strings.Contains(out, "Version:") {
		t.Errorf("kernel show = %d %q", code, out)
	}
	code, out, _ = run(t, "--socket", sock, "version", "-o", "json")
	var v struct {
		Client string
		Daemon api.VersionInfo
	}
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Client != "test" || v.Daemon.API != api.Version {
		t.Errorf("version -o json = %d %q (%v)", code, out, err)
	}
}

func TestEmptyLists(t *testing.T) {
	isolate(t)
	sock := daemontest.Start(t, daemon.Deps{})
	for _, kind := range []string{"vm", "image", "kernel"} {
		code, out, _ := run(t, "--socket", sock, kind, "ls", "-o", "json")
		if code != 0 || strings.TrimSpace(out) != "[]" {
			t.Errorf("%s ls -o json on empty = %d %q, want []", kind, code, out)
		}
	}
}

func TestRemove(t *testing.T) {
	isolate(t)
	st := fixture()
	sock := daemontest.Start(t, daemon.Deps{Store: st})
	code, out, errs := run(t, "--socket", sock, "vm", "rm", "dev")
	if code != 0 || !strings.Contains(out, "removed VM dev") {
		t.Fatalf("vm rm dev = %d %q %q", code, out, errs)
	}
	if code, _, errs = run(t, "--socket", sock, "vm", "rm", "--force", "busy"); code != 0 {
		t.Fatalf("vm rm --force busy = %d %q", code, errs)
	}
	for _, args := range [][]string{{"image", "rm", "bookworm"}, {"kernel", "rm", "cloud"}} {
		if code, _, errs = run(t, append([]string{"--socket", sock}, args...)...); code != 0 {
			t.Fatalf("%v = %d %q", args, code, errs)
		}
	}
	if len(st.VMs)+len(st.Images)+len(st.Kernels) != 0 {
		t.Errorf("left after rm: %+v", st)
	}
}

func TestBadInput(t *testing.T) {
	isolate(t)
	sock := daemontest.Start(t, daemon.Deps{Store: fixture()})
	missing := filepath.Join(t.TempDir(), "no.sock")
	cases := []struct {
		name  string
		args  []string
		code  int
		parts []string // all must appear in stderr
	}{
		{"unknown VM", []string{"vm", "show", "nope"}, 1, []string{"banger: ", "nope", "hint: ", "banger vm ls"}},
		{"rm unknown VM", []string{"vm", "rm", "nope"}, 1, []string{"nope", "banger vm ls"}},
		{"unknown image", []string{"image", "show", "nope"}, 1, []string{"nope", "banger image ls"}},
		{"rm unknown kernel", []string{"kernel", "rm", "nope"}, 1, []string{"nope", "banger kernel ls"}},
		{"name with slash", []string{"vm", "show", "a/b"}, 1, []string{`"a/b"`, "'/'", "hint: a name is " + api.NameRule}},
		{"rm name with slash", []string{"image", "rm", "../etc"}, 1, []string{`"../etc"`, "a name is"}},
		{"create name with slash", []string{"vm", "create", "a/b"}, 1, []string{`"a/b"`, "a name is"}},
		{"create bad vcpus", []string{"vm", "create", "dev2", "--cpus", "999"}, 1, []string{"vcpus 999", "1 to"}},
		{"create bad vmm", []string{"vm", "create", "dev2", "--vmm", "vbox"}, 1, []string{`"vbox"`, "firecracker or qemu"}},
		{"create unavailable", []string{"vm", "create", "dev2"}, 1, []string{"VM creation is not available yet", "hint: "}},
		{"rm running VM", []string{"vm", "rm", "busy"}, 1, []string{"running", "--force"}},
		{"rm image in use", []string{"image", "rm", "bookworm"}, 1, []string{"in use", "busy, dev", "hint: remove those VMs first"}},
		{"teardown with args", []string{"system", "teardown", "extra"}, 2, []string{"takes no arguments"}},
		{"bad -o", []string{"vm", "ls", "-o", "yaml"}, 2, []string{`"yaml"`, "use table or json", "banger vm ls --help"}},
		{"bad -o on show", []string{"image", "show", "bookworm", "-o", "xml"}, 2, []string{"use table or json"}},
		{"missing name", []string{"vm", "show"}, 2, []string{"needs NAME", "banger vm show NAME"}},
		{"missing name rm", []string{"kernel", "rm"}, 2, []string{"needs NAME"}},
		{"too many names", []string{"vm", "show", "a", "b"}, 2, []string{"takes only NAME"}},
		{"ls with args", []string{"vm", "ls", "dev"}, 2, []string{"takes no arguments"}},
		{"unknown command", []string{"vm", "sohw"}, 2, []string{`unknown command "sohw"`, "did you mean show"}},
		{"unknown top command", []string{"vmm"}, 2, []string{`unknown command "vmm"`, "did you mean vm?"}},
		{"group alone", []string{"image"}, 2, []string{"needs a command", "ls", "rm", "show"}},
		{"unknown flag", []string{"vm", "ls", "--bogus"}, 2, []string{"--bogus", "banger vm ls --help"}},
		{"bad flag value", []string{"vm", "create", "x", "--cpus", "two"}, 2, []string{`"two"`, "--cpus"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := run(t, append([]string{"--socket", sock}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, errs)
			}
			for _, p := range c.parts {
				if !strings.Contains(errs, p) {
					t.Errorf("stderr %q does not contain %q", errs, p)
				}
			}
		})
	}

	t.Run("missing daemon", func(t *testing.T) {
		for _, args := range [][]string{{"vm", "ls"}, {"image", "show", "x"}, {"system", "teardown"}} {
			code, _, errs := run(t, append([]string{"--socket", missing}, args...)...)
			want := "banger: banger daemon is not running (socket " + missing + ")\nhint: start it with `sudo systemctl start banger` or `sudo banger daemon`\n"
			if code != 1 || errs != want {
				t.Errorf("%v: exit %d stderr %q, want 1 %q", args, code, errs, want)
			}
		}
		code, out, _ := run(t, "--socket", missing, "version")
		if code != 1 || out != "client: test\n" {
			t.Errorf("version without daemon: exit %d stdout %q, want 1 and the client version", code, out)
		}
	})
}

func TestSocketFromEnvAndConfig(t *testing.T) {
	isolate(t)
	sock := daemontest.Start(t, daemon.Deps{Store: fixture()})

	t.Setenv("BANGER_SOCKET", sock)
	if code, _, errs := run(t, "vm", "show", "dev"); code != 0 {
		t.Errorf("with BANGER_SOCKET: exit %d %q", code, errs)
	}
	t.Setenv("BANGER_SOCKET", "")

	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("socket = \""+sock+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "--config", cfg, "vm", "show", "dev"); code != 0 {
		t.Errorf("with --config: exit %d %q", code, errs)
	}
	t.Setenv("BANGER_CONFIG", cfg)
	if code, _, errs := run(t, "vm", "ls"); code != 0 {
		t.Errorf("with BANGER_CONFIG: exit %d %q", code, errs)
	}

	code, _, errs := run(t, "--config", filepath.Join(t.TempDir(), "missing.toml"), "vm", "ls")
	if code != 1 || !strings.Contains(errs, "missing.toml") || !strings.Contains(errs, "--socket") {
		t.Errorf("missing config: exit %d %q, want 1 naming the file and --socket", code, errs)
	}
}

func TestTeardownAndCompletion(t *testing.T) {
	isolate(t)
	sock := daemontest.Start(t, daemon.Deps{})
	code, out, errs := run(t, "--socket", sock, "system", "teardown")
	if code != 0 || !strings.Contains(out, "nothing recorded") {
		t.Errorf("system teardown = %d %q %q", code, out, errs)
	}
	code, out, _ = run(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "banger") {
		t.Errorf("completion bash = %d (%d bytes)", code, len(out))
	}
}

type leftNet struct{}

func (leftNet) Teardown(context.Context) error { return nil }
func (leftNet) Leftovers(context.Context) ([]hostnet.Object, error) {
	return []hostnet.Object{{Kind: hostnet.KindTable, Name: "banger"}}, nil
}

func TestTeardownLeftovers(t *testing.T) {
	isolate(t)
	sock := daemontest.Start(t, daemon.Deps{Network: leftNet{}})
	code, out, errs := run(t, "--socket", sock, "system", "teardown")
	if code != 1 || !strings.Contains(out, "removed every recorded") ||
		!strings.Contains(errs, "still present after teardown: nftables-table banger") || !strings.Contains(errs, "hint: ") {
		t.Errorf("teardown with leftovers = %d %q %q, want exit 1 naming them", code, out, errs)
	}
}
