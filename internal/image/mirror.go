package image

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// HostMirror returns the Debian archive that the host's apt sources use
// for suite's main component, so banger never hard-codes a mirror address.
// It reads /etc/apt/sources.list and then /etc/apt/sources.list.d/*.list
// and *.sources (deb822) in name order, as apt does, and returns the first
// match.
func HostMirror(suite string) (string, error) {
	return findMirror("/etc/apt", suite)
}

func findMirror(aptDir, suite string) (string, error) {
	files := []string{filepath.Join(aptDir, "sources.list")}
	more, err := filepath.Glob(filepath.Join(aptDir, "sources.list.d", "*"))
	if err != nil {
		return "", fmt.Errorf("listing apt sources: %w", err)
	}
	slices.Sort(more)
	files = append(files, more...)
	for _, f := range files {
		var parse func(io.Reader, string) string
		switch {
		case strings.HasSuffix(f, ".sources"):
			parse = mirrorFromDeb822
		case strings.HasSuffix(f, ".list"):
			parse = mirrorFromOneLine
		default:
			continue
		}
		data, err := os.Open(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading apt sources: %w", err)
		}
		uri := parse(data, suite)
		data.Close()
		if uri != "" {
			return uri, nil
		}
	}
	return "", fmt.Errorf("finding a Debian mirror: no apt source in %s names suite %q with component main", aptDir, suite)
}

// mirrorFromOneLine reads the one-line format:
//
//	deb [arch=amd64 signed-by=...] http://host/debian bookworm main contrib
func mirrorFromOneLine(r io.Reader, suite string) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // options, possibly several words
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) >= 3 && f[1] == suite && slices.Contains(f[2:], "main") {
			return strings.TrimSuffix(f[0], "/")
		}
	}
	return ""
}

// mirrorFromDeb822 reads the deb822 format: stanzas separated by blank
// lines, fields "Name: value", continuation lines starting with a space.
func mirrorFromDeb822(r io.Reader, suite string) string {
	sc := bufio.NewScanner(r)
	stanza := map[string]string{}
	last := ""
	match := func() string {
		defer clear(stanza)
		if strings.EqualFold(stanza["enabled"], "no") ||
			!slices.Contains(strings.Fields(stanza["types"]), "deb") ||
			!slices.Contains(strings.Fields(stanza["suites"]), suite) ||
			!slices.Contains(strings.Fields(stanza["components"]), "main") {
			return ""
		}
		uris := strings.Fields(stanza["uris"])
		if len(uris) == 0 {
			return ""
		}
		return strings.TrimSuffix(uris[0], "/")
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.TrimSpace(line) == "":
			if uri := match(); uri != "" {
				return uri
			}
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				stanza[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if ok {
				last = strings.ToLower(strings.TrimSpace(k))
				stanza[last] = strings.TrimSpace(v)
			}
		}
	}
	return match()
}
