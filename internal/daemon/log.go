package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// LogFile is the daemon's log under the state directory.
const LogFile = "banger.log"

// NewLogger logs text to stderr (the journal under systemd) and JSON to
// <stateDir>/banger.log, at level ("" = info). Close the returned closer
// after the last log line.
func NewLogger(stateDir, level string, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	var lvl slog.Level
	if level != "" {
		if err := lvl.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
			return nil, nil, fmt.Errorf("parsing log level %q: use debug, info, warn or error", level)
		}
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("creating state directory: %w", err)
	}
	path := filepath.Join(stateDir, LogFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("opening log file: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	h := slog.NewMultiHandler(slog.NewTextHandler(stderr, opts), slog.NewJSONHandler(f, opts))
	return slog.New(h), f, nil
}
