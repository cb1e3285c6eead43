package store

import (
	"context"
	"encoding/hex"
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func mustCreateKernel(t *testing.T, s *Store, name string) Kernel {
	t.Helper()
	k := Kernel{Name: name, Path: "/state/kernels/" + name + "/vmlinuz", Version: "6.1.0"}
	if err := s.CreateKernel(context.Background(), &k); err != nil {
		t.Fatalf("CreateKernel(%s): %v", name, err)
	}
	return k
}

func mustCreateImage(t *testing.T, s *Store, name, kernelID, hash string) Image {
	t.Helper()
	im := Image{Name: name, Path: "/state/images/" + name + ".ext4", SizeBytes: 1 << 30, InputHash: hash, KernelID: kernelID}
	if err := s.CreateImage(context.Background(), &im); err != nil {
		t.Fatalf("CreateImage(%s): %v", name, err)
	}
	return im
}

func mustCreateVM(t *testing.T, s *Store, vm VM) VM {
	t.Helper()
	if err := s.CreateVM(context.Background(), &vm); err != nil {
		t.Fatalf("CreateVM(%s): %v", vm.Name, err)
	}
	return vm
}

func TestVMRoundTripByIDAndName(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "banger.db")
	s := openTest(t, path)
	k := mustCreateKernel(t, s, "k1")
	im := mustCreateImage(t, s, "bookworm", k.ID, "h1")
	vm := mustCreateVM(t, s, VM{
		Name: "dev", ImageID: im.ID, KernelID: k.ID, VCPUs: 2, MemoryMiB: 1024, DiskSizeBytes: 4 << 30,
		VMM: "qemu", IP: netip.MustParseAddr("172.30.0.2"), MAC: "02:00:00:00:00:02", Tap: "bg-tap0",
		RunDir: "/run/banger/dev", Runtime: []byte(`{"pid":42}`),
	})
	if len(vm.ID) < 12 {
		t.Errorf("generated id %q shorter than 12", vm.ID)
	}
	if _, err := hex.DecodeString(vm.ID); err != nil {
		t.Errorf("generated id %q is not hex: %v", vm.ID, err)
	}
	if vm.State != VMCreating || vm.CreatedAt.IsZero() || !vm.UpdatedAt.Equal(vm.CreatedAt) {
		t.Errorf("CreateVM filled state=%q created=%v updated=%v", vm.State, vm.CreatedAt, vm.UpdatedAt)
	}
	for _, key := range []string{vm.ID, vm.Name} {
		got, err := s.GetVM(ctx, key)
		if err != nil {
			t.Fatalf("GetVM(%s): %v", key, err)
		}
		if !reflect.DeepEqual(*got, vm) {
			t.Errorf("GetVM(%s) =\n%+v\nwant\n%+v", key, got, vm)
		}
	}

	// The id survives updates and reopening.
	vm.State, vm.Runtime, vm.LastError = VMError, nil, "boom"
	if err := s.UpdateVM(ctx, &vm); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := openTest(t, path)
	got, err := s2.GetVM(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, vm) {
		t.Errorf("after update and reopen: got\n%+v\nwant\n%+v", got, vm)
	}
}

func TestVMNamesUniqueCaseSensitive(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	mustCreateVM(t, s, VM{Name: "dev"})
	err := s.CreateVM(ctx, &VM{Name: "dev"})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("second CreateVM(dev) = %v, want ErrConflict", err)
	}
	mustCreateVM(t, s, VM{Name: "Dev"})
	other := mustCreateVM(t, s, VM{Name: "other", Tap: "tap-a", MAC: "02:00:00:00:00:0a"})
	if err := s.CreateVM(ctx, &VM{Name: "third", Tap: "tap-a"}); !errors.Is(err, ErrConflict) {
		t.Errorf("CreateVM with a taken tap = %v, want ErrConflict", err)
	}
	other.Name = "dev"
	if err := s.UpdateVM(ctx, &other); !errors.Is(err, ErrConflict) {
		t.Errorf("rename onto a taken name = %v, want ErrConflict", err)
	}
	vms, err := s.ListVMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vms {
		names = append(names, v.Name)
	}
	if want := []string{"Dev", "dev", "other"}; !reflect.DeepEqual(names, want) {
		t.Errorf("ListVMs names = %v, want %v", names, want)
	}
}

func TestGetVMPrefersIDOverName(t *testing.T) {
	s := newTestStore(t)
	a := mustCreateVM(t, s, VM{Name: "a"})
	b := mustCreateVM(t, s, VM{Name: a.ID}) // named like a's id
	got, err := s.GetVM(context.Background(), a.ID)
	if err != nil || got.ID != a.ID {
		t.Errorf("GetVM(%s) = %s, %v; want vm a", a.ID, got.ID, err)
	}
	if got, err := s.GetVM(context.Background(), b.ID); err != nil || got.ID != b.ID {
		t.Errorf("GetVM(%s) = %s, %v; want vm b", b.ID, got.ID, err)
	}
}

func TestVMNotFound(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.GetVM(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetVM(nope) = %v, want ErrNotFound", err)
	}
	vm := mustCreateVM(t, s, VM{Name: "gone"})
	if err := s.DeleteVM(ctx, vm.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVM(ctx, vm.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteVM = %v, want ErrNotFound", err)
	}
	if err := s.UpdateVM(ctx, &vm); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateVM of a deleted vm = %v, want ErrNotFound", err)
	}
	if err := s.CreateVM(ctx, &VM{Name: "x", ImageID: "no-such-image"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("CreateVM with an unknown image = %v, want ErrNotFound", err)
	}
	if err := s.CreateVM(ctx, &VM{Name: "y", KernelID: "no-such-kernel"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("CreateVM with an unknown kernel = %v, want ErrNotFound", err)
	}
}

func TestKernelsAndImages(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	k := mustCreateKernel(t, s, "k1")
	if err := s.CreateKernel(ctx, &Kernel{Name: "k1"}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate kernel name = %v, want ErrConflict", err)
	}
	for _, key := range []string{k.ID, "k1"} {
		got, err := s.GetKernel(ctx, key)
		if err != nil || !reflect.DeepEqual(*got, k) {
			t.Errorf("GetKernel(%s) = %+v, %v; want %+v", key, got, err, k)
		}
	}
	if _, err := s.GetKernel(ctx, "k2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetKernel(k2) = %v, want ErrNotFound", err)
	}

	old := mustCreateImage(t, s, "old", k.ID, "hash")
	time.Sleep(time.Millisecond) // distinct CreatedAt
	newer := mustCreateImage(t, s, "newer", "", "hash")
	if err := s.CreateImage(ctx, &Image{Name: "old"}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate image name = %v, want ErrConflict", err)
	}
	if err := s.CreateImage(ctx, &Image{Name: "x", KernelID: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("image with unknown kernel = %v, want ErrNotFound", err)
	}
	for _, key := range []string{old.ID, "old"} {
		got, err := s.GetImage(ctx, key)
		if err != nil || !reflect.DeepEqual(*got, old) {
			t.Errorf("GetImage(%s) = %+v, %v; want %+v", key, got, err, old)
		}
	}
	if got, err := s.FindImageByHash(ctx, "hash"); err != nil || got.ID != newer.ID {
		t.Errorf("FindImageByHash = %s, %v; want the newest (%s)", got.Name, err, newer.Name)
	}
	if _, err := s.FindImageByHash(ctx, "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindImageByHash(other) = %v, want ErrNotFound", err)
	}
	ims, err := s.ListImages(ctx)
	if err != nil || len(ims) != 2 || ims[0].Name != "newer" || ims[1].Name != "old" {
		t.Errorf("ListImages = %+v, %v; want newer, old", ims, err)
	}

	// In use: refused with ErrConflict.
	vm := mustCreateVM(t, s, VM{Name: "dev", ImageID: old.ID, KernelID: k.ID})
	if err := s.DeleteImage(ctx, old.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("DeleteImage in use = %v, want ErrConflict", err)
	}
	if err := s.DeleteKernel(ctx, k.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("DeleteKernel in use = %v, want ErrConflict", err)
	}
	if err := s.DeleteVM(ctx, vm.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteImage(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKernel(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKernel(ctx, k.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteKernel = %v, want ErrNotFound", err)
	}
	if err := s.DeleteImage(ctx, old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteImage = %v, want ErrNotFound", err)
	}
	if ks, err := s.ListKernels(ctx); err != nil || len(ks) != 0 {
		t.Errorf("ListKernels after delete = %v, %v", ks, err)
	}
}
