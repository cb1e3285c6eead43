package client

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"banger/internal/api"
)

// connError is tested with the errors net returns, because a root test
// process cannot be refused by file permissions.
func TestConnErrorPermission(t *testing.T) {
	c := New("/run/banger/banger.sock")
	for _, errno := range []syscall.Errno{syscall.EACCES, syscall.EPERM} {
		opErr := &net.OpError{Op: "dial", Net: "unix", Err: &os.SyscallError{Syscall: "connect", Err: errno}}
		err := c.connError(fmt.Errorf("Get \"http://banger/v1/vms\": %w", opErr))
		var e *api.Error
		if !errors.As(err, &e) || e.Code != api.CodePermissionDenied {
			t.Fatalf("%v: got %v, want permission_denied", errno, err)
		}
		for _, p := range []string{"/run/banger/banger.sock", "sudo", "`banger` group"} {
			if !strings.Contains(e.Error(), p) {
				t.Errorf("%v: %q does not mention %q", errno, e.Error(), p)
			}
		}
	}
}
