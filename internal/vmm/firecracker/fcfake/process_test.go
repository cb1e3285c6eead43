package fcfake

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProcessFlags runs the fake as a process through its wrapper, the way
// a driver runs the real binary.
func TestProcessFlags(t *testing.T) {
	bin, err := WriteWrapper(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "fc.sock")
	cases := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"unknown flag", []string{"--api-sock", sock, "--bogus"}, exitArgParsing, "Found argument '--bogus' which wasn't expected"},
		{"single dash", []string{"-id", "x"}, exitArgParsing, "Found argument '-id'"},
		{"missing value", []string{"--api-sock"}, exitArgParsing, "requires a value"},
		{"bad id", []string{"--api-sock", sock, "--id", "no_underscores"}, exitGeneric, "Invalid instance ID"},
		{"version", []string{"--version"}, 0, "Firecracker v1.16.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			cmd := exec.Command(bin, tc.args...)
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Fatalf("exit %d output %q; want %d with %q", code, out.String(), tc.code, tc.out)
			}
		})
	}
}
