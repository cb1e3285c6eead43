package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseSize parses a byte size: plain bytes ("1048576") or an integer with a
// binary unit K, M, G or T, optionally followed by "iB" or "B" and in any
// case ("512M", "8G", "8GiB", "1t"). Units are powers of 1024, as with
// qemu-img and truncate. Negative, fractional and overflowing sizes are
// errors.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	upper := strings.ToUpper(t)
	// "8GiB" and "8GB" mean "8G"; "512B" means 512 bytes.
	if strings.HasSuffix(upper, "IB") {
		upper = strings.TrimSuffix(upper, "IB")
		if upper == "" || !strings.ContainsAny(upper[len(upper)-1:], "KMGT") {
			return 0, fmt.Errorf("parsing size %q: \"iB\" must follow K, M, G or T", s)
		}
	} else {
		upper = strings.TrimSuffix(upper, "B")
	}
	shift := 0
	if n := len(upper); n > 0 {
		switch upper[n-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift > 0 {
			upper = upper[:n-1]
		}
	}
	if !isDigits(upper) {
		return 0, fmt.Errorf("parsing size %q: want an integer with an optional K, M, G or T suffix", s)
	}
	n, err := strconv.ParseInt(upper, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing size %q: %w", s, err)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("parsing size %q: too large", s)
	}
	return n << shift, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
