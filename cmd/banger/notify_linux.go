package main

import (
	"fmt"
	"net"
	"os"
)

// notifyReady tells systemd (Type=notify) that the daemon is ready. It does
// nothing when not started by systemd; a second call sends a second,
// harmless READY=1.
func notifyReady() error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if addr[0] == '@' { // abstract socket
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("READY=1")); err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	return nil
}
