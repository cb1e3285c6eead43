package guest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultSerialPath is the virtio-serial port QEMU guests get (a chardev
// named banger.agent).
const DefaultSerialPath = "/dev/virtio-ports/banger.agent"

// ServeVsock listens on the vsock port (any CID) and serves each
// connection (one yamux session per connection) until ctx is done.
func (s *Server) ServeVsock(ctx context.Context, port uint32) error {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("creating vsock socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: port}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("binding vsock port %d: %w", port, err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		return fmt.Errorf("listening on vsock port %d: %w", port, err)
	}
	stop := context.AfterFunc(ctx, func() { unix.Shutdown(fd, unix.SHUT_RDWR) })
	defer stop()
	defer unix.Close(fd)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
				continue
			}
			return fmt.Errorf("accepting vsock connection: %w", err)
		}
		conn := os.NewFile(uintptr(nfd), "vsock")
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.ServeStream(ctx, conn, true); err != nil {
				s.log.Debug("vsock connection ended", "err", err)
			}
		}()
	}
}

// resetLine is what the agent writes when it (re)opens the serial port.
const resetLine = "\nbanger-agent: (re)started\n"

// ServeSerial serves the serial port at path: one stream for the life of
// the agent, on which the host may start any number of yamux sessions
// one after the other (see ServeStream).
//
// The port's device node is made by udev once virtio_console binds, which
// may be after the agent starts: ServeSerial waits for it to appear, and
// reopens it if serving fails, until ctx is done.
func (s *Server) ServeSerial(ctx context.Context, path string) error {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
		if err == nil {
			// A host still connected from before this agent started keeps
			// a yamux session the new agent knows nothing of, and would
			// wait on it forever. A line that is not a yamux frame ends that
			// session on the host (invalid version byte), so it re-dials; a
			// host in its handshake skips the line. The write waits for a
			// host to be connected.
			_, err = f.Write([]byte(resetLine))
		}
		if err == nil {
			err = s.ServeStream(ctx, f, false)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("serving serial port; reopening", "path", path, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}
