package image

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// codec is one compressor the x86 kernel build may use for its payload.
type codec struct {
	name  string
	magic []byte
	// decode expands stream, which is the payload without the kernel's
	// 4-byte size trailer (gzip keeps it: it is the gzip ISIZE field).
	decode func(stream []byte, limit int64) ([]byte, error)
	// keepTrailer: the trailer is part of the codec's own stream.
	keepTrailer bool
}

// codecs by magic, in the order of arch/x86/boot/compressed/Makefile.
var codecs = []codec{
	{name: "gzip", magic: []byte{0x1f, 0x8b}, decode: decodeGzip, keepTrailer: true},
	{name: "bzip2", magic: []byte("BZh"), decode: decodeBzip2},
	{name: "lzma", magic: []byte{0x5d, 0x00, 0x00}, decode: decodeLzma},
	{name: "xz", magic: []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, decode: decodeXz},
	{name: "lzo", magic: []byte{0x89, 'L', 'Z', 'O'}, decode: nil},
	{name: "lz4", magic: []byte{0x02, 0x21, 0x4c, 0x18}, decode: decodeLz4Legacy},
	{name: "zstd", magic: []byte{0x28, 0xb5, 0x2f, 0xfd}, decode: decodeZstd},
}

// decompressPayload picks the codec by magic and expands the payload. Every
// kernel payload ends with the little-endian uncompressed size (size_append
// in the kernel build; the ISIZE field for gzip), which is checked.
func decompressPayload(payload []byte) (out []byte, codecName string, err error) {
	want := int64(binary.LittleEndian.Uint32(payload[len(payload)-4:]))
	if want > maxVmlinux {
		return nil, "", fmt.Errorf("payload says it expands to %d bytes, more than the %d allowed", want, maxVmlinux)
	}
	for _, c := range codecs {
		if !bytes.HasPrefix(payload, c.magic) {
			continue
		}
		if c.decode == nil {
			return nil, c.name, fmt.Errorf("%s-compressed payload is not supported (use a kernel built with gzip, xz, zstd or lz4)", c.name)
		}
		stream := payload
		if !c.keepTrailer {
			stream = payload[:len(payload)-4]
		}
		out, err := c.decode(stream, want+1)
		if errors.Is(err, errTooLarge) {
			return nil, c.name, fmt.Errorf("%s payload expands past the %d bytes its size trailer says (corrupt payload?)", c.name, want)
		}
		if err != nil {
			return nil, c.name, fmt.Errorf("decompressing %s payload: %w", c.name, err)
		}
		if int64(len(out)) != want {
			return nil, c.name, fmt.Errorf("%s payload expanded to %d bytes, but its size trailer says %d (corrupt payload?)", c.name, len(out), want)
		}
		return out, c.name, nil
	}
	return nil, "", fmt.Errorf("payload has an unknown compression magic % x", payload[:min(len(payload), 6)])
}

// errTooLarge: the output grew past the limit given to a decoder.
var errTooLarge = errors.New("output too large")

// readAllLimit reads r to its end, failing past limit bytes.
func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) >= limit {
		return nil, errTooLarge
	}
	return out, nil
}

func decodeGzip(stream []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(stream))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return readAllLimit(zr, limit)
}

func decodeBzip2(stream []byte, limit int64) ([]byte, error) {
	return readAllLimit(bzip2.NewReader(bytes.NewReader(stream)), limit)
}

func decodeLzma(stream []byte, limit int64) ([]byte, error) {
	lr, err := lzma.NewReader(bytes.NewReader(stream))
	if err != nil {
		return nil, err
	}
	return readAllLimit(lr, limit)
}

// decodeXz uses ulikunitz/xz, which knows only the LZMA2 filter. Kernels
// are normally compressed with the x86 BCJ filter in front of LZMA2
// (scripts/xz_wrap.sh), which it rejects; then the xz program (xz-utils)
// is used when it is installed.
func decodeXz(stream []byte, limit int64) ([]byte, error) {
	xr, err := xz.ReaderConfig{SingleStream: true}.NewReader(bytes.NewReader(stream))
	if err == nil {
		var out []byte
		if out, err = readAllLimit(xr, limit); err == nil {
			return out, nil
		}
	}
	if _, lookErr := exec.LookPath("xz"); lookErr != nil {
		return nil, fmt.Errorf("%w (and no xz program to fall back on: apt-get install xz-utils)", err)
	}
	out, xzErr := runXzProgram(stream, limit)
	if xzErr != nil {
		return nil, errors.Join(err, xzErr)
	}
	return out, nil
}

func runXzProgram(stream []byte, limit int64) ([]byte, error) {
	cmd := exec.Command("xz", "--decompress", "--stdout", "--single-stream")
	cmd.Stdin = bytes.NewReader(stream)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running xz: %w", err)
	}
	out, readErr := readAllLimit(stdout, limit)
	if readErr != nil {
		_ = cmd.Process.Kill()
	}
	if err := cmd.Wait(); err != nil && readErr == nil {
		return nil, fmt.Errorf("running xz: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, readErr
}

func decodeZstd(stream []byte, limit int64) ([]byte, error) {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxVmlinux))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	out, err := d.DecodeAll(stream, nil)
	if err == nil && int64(len(out)) >= limit {
		return nil, errTooLarge
	}
	return out, err
}

const (
	lz4LegacyMagic = 0x184c2102
	lz4LegacyBlock = 8 << 20 // uncompressed size of every block but the last
)

// decodeLz4Legacy expands the LZ4 legacy frame the kernel build writes
// (`lz4 -l`): magic, then blocks of <le32 compressed size><data>, each
// expanding to at most 8 MiB, possibly with further magics in between
// (concatenated frames). pierrec/lz4's Reader reads legacy frames too, but
// this loop is small and checks each block's bounds explicitly.
func decodeLz4Legacy(stream []byte, limit int64) ([]byte, error) {
	if len(stream) < 4 || binary.LittleEndian.Uint32(stream) != lz4LegacyMagic {
		return nil, errors.New("no lz4 legacy frame magic")
	}
	var out []byte
	buf := make([]byte, lz4LegacyBlock)
	for pos := 4; pos < len(stream); {
		if len(stream)-pos < 4 {
			return nil, fmt.Errorf("truncated block header at offset %d", pos)
		}
		size := binary.LittleEndian.Uint32(stream[pos:])
		pos += 4
		if size == lz4LegacyMagic {
			continue
		}
		if uint64(size) > uint64(len(stream)-pos) {
			return nil, fmt.Errorf("block at offset %d claims %d bytes, only %d remain (truncated payload?)", pos-4, size, len(stream)-pos)
		}
		n, err := lz4.UncompressBlock(stream[pos:pos+int(size)], buf)
		if err != nil {
			return nil, fmt.Errorf("block at offset %d: %w", pos-4, err)
		}
		pos += int(size)
		out = append(out, buf[:n]...)
		if int64(len(out)) >= limit {
			return nil, errTooLarge
		}
	}
	return out, nil
}
