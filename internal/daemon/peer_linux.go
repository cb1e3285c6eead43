package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"banger/internal/api"
)

// peer is who is on the other end of an API connection, from SO_PEERCRED.
type peer struct {
	pid  int32
	uid  uint32
	gids []uint32 // primary and supplementary groups
	err  error    // why the credentials could not be read
}

type peerKey struct{}

// withPeer is http.Server.ConnContext: it reads the peer's credentials
// once per connection. Failure is recorded, not fatal here: authorize
// refuses such connections with a message.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, peerKey{}, peerOf(c))
}

func peerOf(c net.Conn) peer {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{err: fmt.Errorf("connection is %T, not a unix socket", c)}
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peer{err: fmt.Errorf("reading peer credentials: %w", err)}
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peer{err: fmt.Errorf("reading peer credentials: %w", err)}
	}
	if credErr != nil {
		return peer{err: fmt.Errorf("reading peer credentials: %w", credErr)}
	}
	p := peer{pid: cred.Pid, uid: cred.Uid, gids: []uint32{cred.Gid}}
	extra, err := supplementaryGroups(cred.Pid)
	if err != nil {
		// Without them only uid and primary group count; that can only
		// refuse, never grant too much.
		return p
	}
	p.gids = append(p.gids, extra...)
	return p
}

// supplementaryGroups reads the "Groups:" line of /proc/PID/status: the
// groups the process really holds (after newgrp, unlike /etc/group).
func supplementaryGroups(pid int32) ([]uint32, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		var gids []uint32
		for _, f := range strings.Fields(rest) {
			g, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("parsing groups of pid %d: %w", pid, err)
			}
			gids = append(gids, uint32(g))
		}
		return gids, nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("no Groups line in /proc/%d/status", pid)
}

// policy says who may use the API: root, the daemon's own user, and
// members of the socket's group.
type policy struct {
	ownerUID  uint32
	group     uint32
	groupName string
}

// permitted is the whole access decision, kept pure so it is tested
// directly.
func (p policy) permitted(uid uint32, gids []uint32) bool {
	return uid == 0 || uid == p.ownerUID || slices.Contains(gids, p.group)
}

// hint says how to get access. Joining the root group is never advised:
// a socket left in group root means the banger group does not exist yet.
func (p policy) hint() string {
	if p.group == 0 {
		return fmt.Sprintf("run banger with sudo; to use it without sudo: sudo groupadd --system %[1]s && sudo usermod -aG %[1]s $USER, restart the daemon and log in again", DefaultSocketGroup)
	}
	return fmt.Sprintf("run banger with sudo, or join the group: sudo usermod -aG %s $USER (then log in again)", p.groupName)
}

// policyFor derives the policy from the socket file's group, so the
// filesystem permission and the per-connection check agree.
func policyFor(ln net.Listener) (policy, error) {
	path := ln.Addr().String()
	fi, err := os.Stat(path)
	if err != nil {
		return policy{}, fmt.Errorf("inspecting socket %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return policy{}, fmt.Errorf("inspecting socket %s: no owner information", path)
	}
	pol := policy{ownerUID: uint32(os.Geteuid()), group: st.Gid, groupName: strconv.Itoa(int(st.Gid))}
	if g, err := user.LookupGroupId(pol.groupName); err == nil {
		pol.groupName = g.Name
	}
	return pol, nil
}

// authorize refuses connections whose peer is not permitted, with a 403
// that says how to get access.
func (d *Daemon) authorize(pol policy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := r.Context().Value(peerKey{}).(peer)
		if !ok {
			p.err = errors.New("no peer credentials")
		}
		if p.err != nil {
			d.log.Warn("refusing API client", "err", p.err)
			writeError(w, &api.Error{Code: api.CodePermissionDenied, Message: "permission denied: the daemon could not identify the client (" + p.err.Error() + ")"})
			return
		}
		if !pol.permitted(p.uid, p.gids) {
			d.log.Warn("refusing API client", "uid", p.uid, "pid", p.pid, "method", r.Method, "path", r.URL.Path)
			writeError(w, &api.Error{
				Code:    api.CodePermissionDenied,
				Message: fmt.Sprintf("permission denied: uid %d is neither root nor in group %s", p.uid, pol.groupName),
				Hint:    pol.hint(),
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}
