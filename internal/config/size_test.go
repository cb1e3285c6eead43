package config

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0":        0,
		"4096":     4096,
		"512B":     512,
		"1K":       1 << 10,
		"512M":     512 << 20,
		"512m":     512 << 20,
		"8G":       8 << 30,
		"8GiB":     8 << 30,
		"8gb":      8 << 30,
		" 1T ":     1 << 40,
		"8388607T": 8388607 << 40,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "-1G", "1.5G", "8X", "8 G", "512iB", "iB", "8388608T", "99999999999999999999"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want error", in, got)
		}
	}
}
