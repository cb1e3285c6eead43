package daemon

import (
	"os"
	"strings"
	"testing"
)

func TestPermitted(t *testing.T) {
	pol := policy{ownerUID: 0, group: 990}
	cases := []struct {
		name string
		uid  uint32
		gids []uint32
		want bool
	}{
		{"root", 0, []uint32{0}, true},
		{"group member by primary gid", 1000, []uint32{990}, true},
		{"group member by supplementary gid", 1000, []uint32{1000, 27, 990}, true},
		{"stranger", 1000, []uint32{1000, 27}, false},
		{"nobody", 65534, []uint32{65534}, false},
		{"no groups known", 1000, nil, false},
	}
	for _, c := range cases {
		if got := pol.permitted(c.uid, c.gids); got != c.want {
			t.Errorf("%s: permitted(%d, %v) = %v, want %v", c.name, c.uid, c.gids, got, c.want)
		}
	}
	// A daemon run by an ordinary user (development) serves that user.
	dev := policy{ownerUID: 1000, group: 1000}
	if !dev.permitted(1000, []uint32{100}) || dev.permitted(1001, []uint32{100}) {
		t.Error("a non-root daemon must serve exactly its own user (and its group)")
	}
}

func TestSupplementaryGroupsOfSelf(t *testing.T) {
	if _, err := supplementaryGroups(int32(selfPID())); err != nil {
		t.Fatalf("reading own groups: %v", err)
	}
	if _, err := supplementaryGroups(-1); err == nil {
		t.Fatal("groups of pid -1: want an error")
	}
}

func selfPID() int { return os.Getpid() }

func TestHintNeverSuggestsRootGroup(t *testing.T) {
	if h := (policy{group: 0, groupName: "root"}).hint(); strings.Contains(h, "-aG root") || !strings.Contains(h, "groupadd --system banger") {
		t.Errorf("hint for a root-group socket: %q", h)
	}
	if h := (policy{group: 990, groupName: "banger"}).hint(); !strings.Contains(h, "usermod -aG banger") {
		t.Errorf("hint for a banger-group socket: %q", h)
	}
}
