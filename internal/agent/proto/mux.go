package proto

import (
	"io"
	"time"

	"github.com/hashicorp/yamux"
)

// MuxConfig is the yamux configuration of both ends of the channel.
//
// yamux closes the whole session (every stream) when one write takes longer
// than ConnectionWriteTimeout, 10 s by default. A guest under software
// emulation on a busy host, writing into a virtio-serial port, can stall
// that long without anything being wrong, and the likeliest cause of a CI
// failure where a request's stream ended with EOF under load (never seen
// alone), so the limit is raised; a dead peer is still found by the
// keepalive.
func MuxConfig() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	cfg.ConnectionWriteTimeout = 2 * time.Minute
	return cfg
}
