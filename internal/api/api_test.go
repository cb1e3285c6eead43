package api

import (
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	good := []string{"a", "dev", "my-vm.1", "a_b", "0abc", strings.Repeat("x", 63)}
	for _, s := range good {
		if err := ValidateName("VM", s); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", s, err)
		}
	}
	bad := map[string]string{
		"":                      "empty",
		"a/b":                   `'/'`,
		"a b":                   `' '`,
		"Dev":                   `'D'`,
		"-x":                    `'-'`,
		".hidden":               `'.'`,
		strings.Repeat("x", 64): "64 characters",
		"ünicode":               `'ü'`,
	}
	for s, want := range bad {
		err := ValidateName("image", s)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("ValidateName(%q) = %v, want *Error", s, err)
		}
		if e.Code != CodeInvalidArgument {
			t.Errorf("ValidateName(%q).Code = %s, want invalid_argument", s, e.Code)
		}
		if !strings.Contains(e.Message, want) || !strings.HasPrefix(e.Message, "image name") {
			t.Errorf("ValidateName(%q) message %q does not name the kind and %s", s, e.Message, want)
		}
		if !strings.Contains(e.Error(), NameRule) {
			t.Errorf("ValidateName(%q) error %q does not state the rule", s, e.Error())
		}
	}
}

func TestCreateVMRequestValidate(t *testing.T) {
	ok := CreateVMRequest{Name: "dev", Image: "bookworm", VCPUs: 2, MemoryMiB: 1024, DiskSize: "8G", VMM: "qemu"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid request rejected: %v", err)
	}
	cases := map[string]CreateVMRequest{
		"name":   {Name: "a/b"},
		"image":  {Name: "dev", Image: "Bad Image"},
		"kernel": {Name: "dev", Kernel: "../k"},
		"vcpus":  {Name: "dev", VCPUs: MaxVCPUs + 1},
		"memory": {Name: "dev", MemoryMiB: -1},
		"vmm":    {Name: "dev", VMM: "vmware"},
	}
	for field, r := range cases {
		err := r.Validate()
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeInvalidArgument {
			t.Errorf("%s: Validate() = %v, want invalid_argument", field, err)
			continue
		}
		if !strings.Contains(e.Error(), field) {
			t.Errorf("%s: message %q does not name the field", field, e.Error())
		}
	}
}

func TestCodeStatusRoundTrip(t *testing.T) {
	codes := []Code{CodeInvalidArgument, CodePermissionDenied, CodeNotFound, CodeMethodNotAllowed,
		CodeConflict, CodeTooLarge, CodeInternal, CodeUnavailable}
	for _, c := range codes {
		if got := CodeForStatus(c.HTTPStatus()); got != c {
			t.Errorf("CodeForStatus(%d) = %s, want %s", c.HTTPStatus(), got, c)
		}
	}
	if got := (&Error{Code: CodeUnavailable, Status: http.StatusNotImplemented}).HTTPStatus(); got != 501 {
		t.Errorf("explicit status not kept: %d", got)
	}
}

// api is imported by the CLI and every client: it must stay free of other
// banger packages.
func TestImportsNoInternalPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "banger/internal/api").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "banger/") && p != "banger/internal/api" {
			t.Errorf("banger/internal/api depends on %s", p)
		}
	}
}
