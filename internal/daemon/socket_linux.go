package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// DefaultSocketGroup is the group whose members may use the API.
const DefaultSocketGroup = "banger"

// Listen creates the API socket at path: the parent directory (0755) if
// missing, the socket with mode 0660, group `group` when that group exists
// (else the daemon's own group). A socket file left by a dead daemon is
// removed; if a daemon still answers on it, Listen refuses to start. Any
// other file at path is left alone and refused.
func Listen(path, group string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating socket directory: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := secure(path, group); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func secure(path, group string) error {
	if err := os.Chmod(path, 0o660); err != nil {
		return fmt.Errorf("setting mode of socket %s: %w", path, err)
	}
	if group == "" {
		return nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		var unknown user.UnknownGroupError
		if errors.As(err, &unknown) {
			return nil // only root (and the daemon's user) get in
		}
		return fmt.Errorf("looking up group %s: %w", group, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return fmt.Errorf("parsing gid of group %s: %w", group, err)
	}
	if err := os.Chown(path, -1, gid); err != nil {
		return fmt.Errorf("giving socket %s to group %s: %w", path, group, err)
	}
	return nil
}

// removeStale removes a socket nobody answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: move it away or set another socket path", path)
	}
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("another banger daemon is already serving on %s: stop it first (sudo systemctl stop banger)", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("probing existing socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing stale socket %s: %w", path, err)
	}
	return nil
}
