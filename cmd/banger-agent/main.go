// Command banger-agent is banger's guest agent. It runs inside every VM
// (static binary, CGO off) and serves the host over vsock and/or a
// virtio-serial port; see docs/agent-protocol.md.
//
//	banger-agent [--vsock-port N] [--serial PATH] [--state-dir DIR]
//	banger-agent supervise DIR   (internal: one per session, started by the agent)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"banger/internal/agent/guest"
)

var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(version)
		return
	}
	if len(os.Args) == 3 && os.Args[1] == "supervise" {
		if err := guest.Supervise(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "banger-agent supervise:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "banger-agent:", err)
		os.Exit(1)
	}
}

func run() error {
	// The serial port is served even before its device node exists (udev
	// makes it once virtio_console binds): ServeSerial waits for it.
	defSerial := guest.DefaultSerialPath
	vsockPort := flag.Uint("vsock-port", 1024, "vsock port to listen on (0: none)")
	serial := flag.String("serial", defSerial, "virtio-serial port to serve (empty: none)")
	stateDir := flag.String("state-dir", "/var/lib/banger-agent", "directory for session state")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv, err := guest.New(guest.Config{StateDir: *stateDir, Version: version, Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	var wg sync.WaitGroup
	errs := make(chan error, 2)
	serve := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f()
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			errs <- err
		}()
	}
	n := 0
	if *vsockPort != 0 {
		n++
		serve("vsock", func() error { return srv.ServeVsock(ctx, uint32(*vsockPort)) })
	}
	if *serial != "" {
		n++
		serve("serial", func() error { return srv.ServeSerial(ctx, *serial) })
	}
	if n == 0 {
		return errors.New("nothing to serve: give --vsock-port or --serial")
	}
	failed := 0
	for range n {
		select {
		case err := <-errs:
			if err != nil {
				log.Error("transport stopped", "err", err) // the other one may still serve
				failed++
			}
			continue
		case <-ctx.Done():
		}
		// Asked to stop (systemctl stop/restart): a transport blocked in a
		// read of the serial port may not notice, and systemd would wait 90 s
		// before killing the agent. Sessions run under their own
		// supervisors, so nothing is lost by not waiting long.
		select {
		case <-waitGroupDone(&wg):
		case <-time.After(2 * time.Second):
			log.Warn("transports did not stop within 2 s; exiting anyway")
		}
		return nil
	}
	wg.Wait()
	if ctx.Err() != nil || failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d transports failed (logged above)", failed, n)
}

func waitGroupDone(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}
