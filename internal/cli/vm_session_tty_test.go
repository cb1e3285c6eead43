package cli

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spf13/cobra"
)

func TestDetacherFindsSequenceAcrossReads(t *testing.T) {
	for _, tc := range []struct {
		reads [][]byte
		want  []byte
		seen  bool
	}{
		{[][]byte{[]byte("ab\x10\x11cd")}, []byte("ab"), true},
		{[][]byte{[]byte("ab\x10"), []byte("\x11")}, []byte("ab"), true},
		{[][]byte{[]byte("a\x10b"), []byte("\x10\x10\x11")}, []byte("a\x10b\x10"), true},
		{[][]byte{[]byte("\x10"), []byte("x\x11")}, []byte("\x10x\x11"), false},
	} {
		var d detacher
		var got []byte
		seen := false
		for _, r := range tc.reads {
			var out []byte
			out, seen = d.filter(r)
			got = append(got, out...)
			if seen {
				break
			}
		}
		if !bytes.Equal(got, tc.want) || seen != tc.seen {
			t.Errorf("reads %q: forwarded %q seen %v; want %q %v", tc.reads, got, seen, tc.want, tc.seen)
		}
	}
}

func TestCommandArgs(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		ok    bool
		argv0 string
	}{
		{[]string{"dev", "--", "ls", "-l"}, true, "ls"},
		{[]string{"dev", "ls"}, false, ""},
		{[]string{"dev", "--"}, false, ""},
		{[]string{"dev", "x", "--", "ls"}, false, ""},
		{[]string{"--", "ls"}, false, ""},
		{[]string{"Bad", "--", "ls"}, false, ""},
	} {
		cmd := &cobra.Command{Use: "exec", RunE: func(*cobra.Command, []string) error { return nil }}
		var vm string
		var argv []string
		var err error
		cmd.Args = func(c *cobra.Command, args []string) error {
			vm, argv, err = commandArgs(c, args, "use")
			return nil
		}
		cmd.SetArgs(tc.args)
		if xerr := cmd.Execute(); xerr != nil {
			t.Fatal(xerr)
		}
		if (err == nil) != tc.ok || (tc.ok && (vm != "dev" || argv[0] != tc.argv0)) {
			t.Errorf("%q: vm %q argv %q err %v; want ok=%v", tc.args, vm, argv, err, tc.ok)
		}
	}
	if err := checkEnv([]string{"A=1", "B="}); err != nil {
		t.Errorf("checkEnv of good entries: %v", err)
	}
	var ue *usageError
	if err := checkEnv([]string{"=x"}); !errors.As(err, &ue) {
		t.Errorf("checkEnv(=x) = %v, want a usage error", err)
	}
}
