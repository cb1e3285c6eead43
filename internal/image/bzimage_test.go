package image

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"banger/internal/testenv"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// fakeELF returns n bytes that start like an ELF and compress somewhat.
func fakeELF(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		if i%7 == 0 {
			b[i] = byte(r.IntN(256))
		} else {
			b[i] = byte(i / 97)
		}
	}
	copy(b, "\x7fELF\x02\x01\x01")
	return b
}

// buildBzImage wraps payload (already compressed) in a minimal x86 setup
// header as Documentation/x86/boot.rst describes, appending the kernel's
// 4-byte size trailer unless the codec carries it (gzip).
func buildBzImage(t *testing.T, compressed []byte, rawLen int, trailer bool, version string) []byte {
	t.Helper()
	const setupSects = 3
	img := make([]byte, (setupSects+1)*512)
	img[offSetupSects] = setupSects
	binary.LittleEndian.PutUint16(img[offBootFlag:], 0xaa55)
	copy(img[offHeaderMagic:], "HdrS")
	binary.LittleEndian.PutUint16(img[offProtocol:], 0x020f)
	// Version string in the setup code, after the header.
	verAt := 0x300
	copy(img[verAt:], version+" (test@example) #1 SMP\x00")
	binary.LittleEndian.PutUint16(img[offKernelVersion:], uint16(verAt-0x200))
	// Some decompressor "code" before the payload, as in a real bzImage.
	pm := bytes.Repeat([]byte{0x90}, 1000)
	payload := append([]byte(nil), compressed...)
	if trailer {
		payload = binary.LittleEndian.AppendUint32(payload, uint32(rawLen))
	}
	binary.LittleEndian.PutUint32(img[offPayloadOffset:], uint32(len(pm)))
	binary.LittleEndian.PutUint32(img[offPayloadLength:], uint32(len(payload)))
	img = append(img, pm...)
	img = append(img, payload...)
	return append(img, bytes.Repeat([]byte{0xcc}, 64)...) // trailing setup data
}

func compressWith(t *testing.T, name string, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch name {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "xz":
		w, err = xz.NewWriter(&buf)
	case "lzma":
		w, err = lzma.WriterConfig{EOSMarker: true, Size: -1}.NewWriter(&buf)
	case "zstd":
		w, err = zstd.NewWriter(&buf)
	case "lz4":
		lw := lz4.NewWriter(&buf)
		err = lw.Apply(lz4.LegacyOption(true))
		w = lw
	default:
		t.Fatalf("no compressor %s", name)
	}
	if err != nil {
		t.Fatalf("creating %s writer: %v", name, err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatalf("compressing with %s: %v", name, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("closing %s writer: %v", name, err)
	}
	return buf.Bytes()
}

func TestExtractVmlinuxCodecs(t *testing.T) {
	for _, tc := range []struct {
		codec string
		size  int
	}{
		{"gzip", 300 << 10},
		{"xz", 300 << 10},
		{"lzma", 300 << 10},
		{"zstd", 300 << 10},
		// More than one 8 MiB legacy block.
		{"lz4", 9<<20 + 12345},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			raw := fakeELF(tc.size)
			img := buildBzImage(t, compressWith(t, tc.codec, raw), len(raw), tc.codec != "gzip", "6.9.9-test")
			got, ver, err := ExtractVmlinux(img)
			if err != nil {
				t.Fatalf("ExtractVmlinux: %v", err)
			}
			if !bytes.Equal(got, raw) {
				t.Fatalf("extracted %d bytes differ from the %d-byte original", len(got), len(raw))
			}
			if ver != "6.9.9-test" {
				t.Errorf("version = %q, want 6.9.9-test", ver)
			}
		})
	}
}

// compressCLI runs a compressor program the way the kernel build does.
func compressCLI(t *testing.T, raw []byte, name, pkg string, args ...string) []byte {
	t.Helper()
	testenv.RequireBinary(t, name, pkg)
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out
}

// Kernels use xz with the x86 BCJ filter, which ulikunitz/xz rejects; the
// xz program takes over.
func TestExtractVmlinuxXzBCJ(t *testing.T) {
	raw := fakeELF(200 << 10)
	comp := compressCLI(t, raw, "xz", "xz-utils", "--format=xz", "--check=crc32", "--x86", "--lzma2=dict=1MiB", "-c")
	got, _, err := ExtractVmlinux(buildBzImage(t, comp, len(raw), true, "6.0.0"))
	if err != nil {
		t.Fatalf("ExtractVmlinux: %v", err)
	}
	if !bytes.Equal(got, raw) {
		t.Fatal("extracted bytes differ from the original")
	}
}

func TestExtractVmlinuxBzip2(t *testing.T) {
	raw := fakeELF(200 << 10)
	comp := compressCLI(t, raw, "bzip2", "bzip2", "-9", "-c")
	got, _, err := ExtractVmlinux(buildBzImage(t, comp, len(raw), true, "6.0.0"))
	if err != nil {
		t.Fatalf("ExtractVmlinux: %v", err)
	}
	if !bytes.Equal(got, raw) {
		t.Fatal("extracted bytes differ from the original")
	}
}

func TestExtractVmlinuxKeepsELF(t *testing.T) {
	raw := fakeELF(4096)
	got, ver, err := ExtractVmlinux(raw)
	if err != nil || !bytes.Equal(got, raw) || ver != "" {
		t.Fatalf("ExtractVmlinux(ELF) = %d bytes, %q, %v; want the input unchanged", len(got), ver, err)
	}
}

func TestExtractVmlinuxCorrupt(t *testing.T) {
	raw := fakeELF(300 << 10)
	good := buildBzImage(t, compressWith(t, "zstd", raw), len(raw), true, "6.1")
	hdrEnd := 4 * 512

	flipped := bytes.Clone(good)
	for i := hdrEnd + 1000 + 200; i < hdrEnd+1000+260; i++ {
		flipped[i] ^= 0x5a
	}
	badMagic := bytes.Clone(good)
	copy(badMagic[hdrEnd+1000:], "\x00\x00\x00\x00")
	notELF := buildBzImage(t, compressWith(t, "gzip", []byte(strings.Repeat("hello ", 1000))), 6000, false, "6.1")
	wrongSize := buildBzImage(t, compressWith(t, "lz4", raw), len(raw)-1, true, "6.1")
	oldProto := bytes.Clone(good)
	binary.LittleEndian.PutUint16(oldProto[offProtocol:], 0x0204)

	for _, tc := range []struct {
		name    string
		data    []byte
		want    string
		notKern bool
	}{
		{"random bytes", bytes.Repeat([]byte("junk"), 1000), "not a bzImage or ELF vmlinux", true},
		{"too short", []byte("\x7fEL"), "not a bzImage or ELF vmlinux", true},
		{"truncated", good[:len(good)/2], "truncated bzImage", false},
		{"corrupt zstd payload", flipped, "decompressing zstd payload", false},
		{"unknown magic", badMagic, "unknown compression magic", false},
		{"payload not ELF", notELF, "not an ELF", false},
		{"size trailer mismatch", wrongSize, "size trailer says", false},
		{"boot protocol too old", oldProto, "needs 2.08", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ExtractVmlinux(tc.data)
			if err == nil {
				t.Fatal("ExtractVmlinux succeeded on corrupt input")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if errors.Is(err, ErrNotKernel) != tc.notKern {
				t.Errorf("errors.Is(err, ErrNotKernel) = %v, want %v", !tc.notKern, tc.notKern)
			}
		})
	}
}
