package fcfake

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Exit codes of Firecracker (FcExitCode).
const (
	exitGeneric    = 1
	exitArgParsing = 153
)

// Environment knobs of the fake process. The real binary rejects unknown
// flags, so the fake takes its own settings from the environment.
const (
	// EnvEchoPorts lists guest vsock ports with an echo listener,
	// comma-separated (default "52,1024").
	EnvEchoPorts = "FCFAKE_ECHO_PORTS"
	// EnvGuestReadyDelay is a time.Duration between InstanceStart and the
	// guest listeners coming up (default 0).
	EnvGuestReadyDelay = "FCFAKE_GUEST_READY_DELAY"
	// EnvIgnoreCtrlAltDel, set to "1", makes the guest ignore
	// SendCtrlAltDel (a guest without i8042 support, or hung).
	EnvIgnoreCtrlAltDel = "FCFAKE_IGNORE_CTRL_ALT_DEL"
	// EnvExec, set to "1", makes MainFromEnv run the fake (re-executing a
	// test binary as the VMM).
	EnvExec = "FCFAKE_EXEC"
)

// flags of firecracker v1.16.1 (src/firecracker/src/main.rs): name ->
// takes a value.
var flags = map[string]bool{
	"api-sock": true, "id": true, "seccomp-filter": true, "no-seccomp": false,
	"start-time-us": true, "start-time-cpu-us": true, "parent-cpu-time-us": true,
	"config-file": true, "metadata": true, "no-api": false, "log-path": true,
	"level": true, "module": true, "show-level": false, "show-log-origin": false,
	"metrics-path": true, "boot-timer": false, "version": false,
	"snapshot-version": false, "describe-snapshot": true,
	"http-api-max-payload-size": true, "mmds-size-limit": true,
	"enable-pci": false, "help": false,
}

var instanceIDRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// MainFromEnv runs Main and exits when EnvExec is "1"; otherwise it
// returns. Call it first in a TestMain so WriteWrapper scripts work.
func MainFromEnv() {
	if os.Getenv(EnvExec) != "1" {
		return
	}
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// WriteWrapper writes an executable script in dir that runs the current
// executable (a test binary whose TestMain calls MainFromEnv) as the fake
// VMM, with env added (e.g. EnvGuestReadyDelay). It returns its path, to
// be used as the "firecracker binary".
func WriteWrapper(dir string, env map[string]string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the test executable: %w", err)
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\nexec env " + EnvExec + "=1")
	for k, v := range env {
		b.WriteString(" " + k + "=" + strconv.Quote(v))
	}
	b.WriteString(" " + strconv.Quote(self) + " \"$@\"\n")
	p := dir + "/firecracker"
	if err := os.WriteFile(p, []byte(b.String()), 0o755); err != nil {
		return "", fmt.Errorf("writing fake firecracker wrapper: %w", err)
	}
	return p, nil
}

// Main is the fake firecracker binary: it parses the real flags, binds the
// API socket and serves until the guest resets or a signal ends it.
func Main(args []string, stdout, stderr io.Writer) int {
	vals := map[string]string{"api-sock": "/run/firecracker.socket", "id": "anonymous-instance"}
	for i := 0; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "--")
		takes, known := flags[name]
		if !ok || !known {
			fmt.Fprintf(stderr, "Error: Arguments parsing error: Found argument '%s' which wasn't expected, or isn't valid in this context.\n", args[i])
			return exitArgParsing
		}
		if takes {
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "--") {
				fmt.Fprintf(stderr, "Error: Arguments parsing error: The argument '--%s' requires a value, but none was supplied\n", name)
				return exitArgParsing
			}
			i++
			vals[name] = args[i]
		} else {
			vals[name] = ""
		}
	}
	if _, ok := vals["version"]; ok {
		fmt.Fprintf(stdout, "Firecracker v1.16.1\n\n")
		return 0
	}
	if !instanceIDRE.MatchString(vals["id"]) {
		fmt.Fprintf(stderr, "thread 'main' panicked: Invalid instance ID: %q\n", vals["id"])
		return exitGeneric
	}
	spec, err := DefaultSpec()
	if err != nil {
		fmt.Fprintf(stderr, "Error: loading API description: %v\n", err)
		return exitGeneric
	}
	cfg := Config{ID: vals["id"], Console: stdout, EchoPorts: []uint32{52, 1024}}
	if v, ok := vals["http-api-max-payload-size"]; ok {
		if cfg.MaxBody, err = strconv.Atoi(v); err != nil {
			fmt.Fprintf(stderr, "'http-api-max-payload-size' parameter expected to be of 'usize' type.\n")
			return exitGeneric
		}
	}
	if v := os.Getenv(EnvEchoPorts); v != "" {
		cfg.EchoPorts = nil
		for _, f := range strings.Split(v, ",") {
			p, err := strconv.ParseUint(strings.TrimSpace(f), 10, 32)
			if err != nil {
				fmt.Fprintf(stderr, "Error: %s: %v\n", EnvEchoPorts, err)
				return exitGeneric
			}
			cfg.EchoPorts = append(cfg.EchoPorts, uint32(p))
		}
	}
	if v := os.Getenv(EnvGuestReadyDelay); v != "" {
		if cfg.GuestReadyDelay, err = time.ParseDuration(v); err != nil {
			fmt.Fprintf(stderr, "Error: %s: %v\n", EnvGuestReadyDelay, err)
			return exitGeneric
		}
	}
	cfg.IgnoreCtrlAltDel = os.Getenv(EnvIgnoreCtrlAltDel) == "1"
	exit := make(chan int, 1)
	cfg.Exit = func(code int) {
		select {
		case exit <- code:
		default:
		}
	}
	fmt.Fprintf(stdout, "Running Firecracker v1.16.1 (fcfake)\n")
	ln, err := net.Listen("unix", vals["api-sock"])
	if err != nil {
		fmt.Fprintf(stderr, "Error: RunWithApi(FailedToBindSocket(%q)): %v\n", vals["api-sock"], err)
		return exitGeneric
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	srv := NewServer(cfg, spec)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "Error: serving API: %v\n", err)
			cfg.Exit(exitGeneric)
		}
	}()
	code := <-exit
	srv.Close()
	_ = ln.Close()
	return code
}
