package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// removeOwnedFiles removes the files (or directories) of a deleted image
// or kernel, but only those under the state directory — a kernel imported
// in place from /boot is never touched — and not still named by a
// remaining row (keep). Missing paths are fine, so a second call (after a
// retry) succeeds. A directory left empty by the removals is removed too.
func removeOwnedFiles(stateDir string, paths []string, keep map[string]bool) error {
	if stateDir == "" {
		return nil // owning nothing, removing nothing
	}
	root, err := filepath.Abs(stateDir)
	if err != nil {
		return fmt.Errorf("resolving state directory: %w", err)
	}
	var errs []error
	dirs := map[string]bool{}
	for _, p := range paths {
		if p == "" || keep[p] || !under(root, p) {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", p, err))
			continue
		}
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		if d != root && under(root, d) {
			os.Remove(d) // only succeeds when empty, which is the point
		}
	}
	return errors.Join(errs...)
}

// under reports whether p is strictly inside root, after cleaning (so
// "root/../etc" is not).
func under(root, p string) bool {
	if !filepath.IsAbs(p) {
		return false
	}
	rel, err := filepath.Rel(root, filepath.Clean(p))
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}
