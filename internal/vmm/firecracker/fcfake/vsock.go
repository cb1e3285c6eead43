package fcfake

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// firstHostPort is where Firecracker numbers the host side of host-initiated
// vsock connections (1 << 30 upward).
const firstHostPort = 1 << 30

// vsockMux is the host side of the hybrid vsock device: a unix socket where
// a client writes "CONNECT <port>\n" and gets "OK <hostport>\n" when a guest
// process listens on port, or a closed connection when none does.
type vsockMux struct {
	ln       net.Listener
	srv      *Server
	nextPort atomic.Uint32
	wg       sync.WaitGroup
	once     sync.Once
}

func listenVsock(path string, srv *Server) (*vsockMux, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	// The real backend leaves the file behind when it ends, like the API
	// socket; net.UnixListener would unlink it on Close.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	m := &vsockMux{ln: ln, srv: srv}
	m.nextPort.Store(firstHostPort)
	m.wg.Add(1)
	go m.serve()
	return m, nil
}

func (m *vsockMux) close() {
	m.once.Do(func() { _ = m.ln.Close() })
}

func (m *vsockMux) serve() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			return
		}
		go m.handle(c)
	}
}

func (m *vsockMux) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c, 64)
	line, err := br.ReadString('\n')
	if err != nil {
		return
	}
	port, ok := parseConnect(line)
	if !ok || !m.srv.guestListening(port) {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	host := m.nextPort.Add(1) - 1
	if _, err := fmt.Fprintf(c, "OK %d\n", host); err != nil {
		return
	}
	// The guest listener echoes what it reads until the host closes.
	_, _ = io.Copy(c, br)
}

func parseConnect(line string) (uint32, bool) {
	rest, ok := strings.CutPrefix(line, "CONNECT ")
	if !ok {
		return 0, false
	}
	p, err := strconv.ParseUint(strings.TrimSuffix(rest, "\n"), 10, 32)
	return uint32(p), err == nil
}
