package doctor

import (
	"context"
	"io/fs"
	"path/filepath"
)

// fakeProbe answers from maps; anything absent does not exist.
type fakeProbe struct {
	bins     map[string]string   // command name -> resolved path
	files    map[string]FileInfo // Stat answers
	statErr  map[string]error    // Stat errors other than not-exist
	contents map[string]string   // ReadFile answers
	kvmAPI   int
	kvmErr   error
	free     map[string]uint64 // FreeBytes by exact path
	freeErr  error
	versions map[string]string // by resolved path; absent = error
	verErr   error             // returned when versions lacks the path
	tables   []string
	nftErr   error
	nftBlock bool // NFTables waits for ctx

	freeAsked []string
}

var _ Probe = (*fakeProbe)(nil)

// healthyHost has hardware KVM and every tool banger uses.
func healthyHost() *fakeProbe {
	bins := map[string]string{}
	for _, b := range []string{"firecracker", "jailer", "qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4", "e2fsck", "resize2fs"} {
		bins[b] = "/usr/bin/" + b
	}
	dir := FileInfo{Mode: fs.ModeDir | 0o755}
	return &fakeProbe{
		bins: bins,
		files: map[string]FileInfo{
			KVMDevice:           {Mode: fs.ModeDevice | fs.ModeCharDevice | 0o660},
			"/var/lib/banger":   dir,
			"/var/cache/banger": dir,
			"/run/banger":       dir,
			"/var/lib":          dir,
			"/var/cache":        dir,
			"/run":              dir,
			"/var":              dir,
			"/":                 dir,
		},
		statErr:  map[string]error{},
		contents: map[string]string{ipForwardPath: "1\n", procModules: "kvm_intel 1 0 - Live 0x0\nkvm 2 1 kvm_intel, Live 0x0\n"},
		kvmAPI:   kvmAPIVersion,
		free:     map[string]uint64{},
		versions: map[string]string{
			"/usr/bin/firecracker":        "Firecracker v1.7.0",
			"/usr/bin/qemu-system-x86_64": "QEMU emulator version 7.2.15",
		},
		tables: []string{"inet banger", "ip filter"},
	}
}

// pvmHost is the project's machines: /dev/kvm answers, but under PVM; no
// /proc/modules, the module shows in /sys/module; no firecracker.
func pvmHost() *fakeProbe {
	p := healthyHost()
	delete(p.contents, procModules)
	p.files[sysModulePVM] = FileInfo{Mode: fs.ModeDir | 0o755}
	delete(p.bins, "firecracker")
	delete(p.bins, "jailer")
	return p
}

func (f *fakeProbe) LookPath(name string) (string, error) {
	if p, ok := f.bins[name]; ok {
		return p, nil
	}
	return "", &fs.PathError{Op: "lookpath", Path: name, Err: fs.ErrNotExist}
}

func (f *fakeProbe) Stat(path string) (FileInfo, error) {
	if err, ok := f.statErr[path]; ok {
		return FileInfo{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if fi, ok := f.files[path]; ok {
		return fi, nil
	}
	return FileInfo{}, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
}

func (f *fakeProbe) ReadFile(path string) ([]byte, error) {
	if s, ok := f.contents[path]; ok {
		return []byte(s), nil
	}
	return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
}

func (f *fakeProbe) OpenKVM(string) (int, error) {
	if f.kvmErr != nil {
		return 0, f.kvmErr
	}
	return f.kvmAPI, nil
}

func (f *fakeProbe) FreeBytes(path string) (uint64, error) {
	f.freeAsked = append(f.freeAsked, path)
	if f.freeErr != nil {
		return 0, f.freeErr
	}
	if n, ok := f.free[filepath.Clean(path)]; ok {
		return n, nil
	}
	return 100 << 30, nil
}

func (f *fakeProbe) Version(ctx context.Context, bin string) (string, error) {
	if v, ok := f.versions[bin]; ok {
		return v, nil
	}
	if f.verErr != nil {
		return "", f.verErr
	}
	<-ctx.Done()
	return "", ctx.Err()
}

func (f *fakeProbe) NFTables(ctx context.Context) ([]string, error) {
	if f.nftBlock {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.tables, f.nftErr
}
