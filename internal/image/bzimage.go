package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrNotKernel: the file is neither an x86 bzImage nor an ELF vmlinux.
var ErrNotKernel = errors.New("not a bzImage or ELF vmlinux")

// Offsets in the x86 real-mode kernel header (Documentation/x86/boot.rst).
const (
	offSetupSects    = 0x1f1 // u8: size of the setup code in 512-byte sectors, 0 means 4
	offBootFlag      = 0x1fe // u16: 0xAA55
	offHeaderMagic   = 0x202 // "HdrS"
	offProtocol      = 0x206 // u16: boot protocol version
	offKernelVersion = 0x20e // u16: pointer (minus 0x200) to the version string
	offPayloadOffset = 0x248 // u32: payload offset from the protected-mode code (>= 2.08)
	offPayloadLength = 0x24c // u32: payload length
	setupHeaderEnd   = 0x250

	minProtocolPayload = 0x0208
	// maxVmlinux bounds what a payload may expand to, so a corrupt size
	// trailer cannot make us allocate without limit.
	maxVmlinux = 1 << 30
)

var elfMagic = []byte("\x7fELF")

// bzHeader is what ExtractVmlinux needs from the setup header.
type bzHeader struct {
	Protocol uint16
	Version  string // first word of the kernel_version string, "" if absent
	Payload  []byte // compressed kernel, with the kernel's 4-byte size trailer
}

// parseBzImage reads the setup header of an x86 bzImage and slices out its
// compressed payload.
func parseBzImage(data []byte) (bzHeader, error) {
	var h bzHeader
	if len(data) < setupHeaderEnd {
		return h, fmt.Errorf("%w: %d bytes is too short for a setup header", ErrNotKernel, len(data))
	}
	if binary.LittleEndian.Uint16(data[offBootFlag:]) != 0xaa55 || string(data[offHeaderMagic:offHeaderMagic+4]) != "HdrS" {
		return h, fmt.Errorf("%w: no boot flag 0xAA55 / \"HdrS\" magic in the setup header", ErrNotKernel)
	}
	h.Protocol = binary.LittleEndian.Uint16(data[offProtocol:])
	if h.Protocol < minProtocolPayload {
		return h, fmt.Errorf("boot protocol %d.%02d has no payload_offset (needs 2.08 or later)", h.Protocol>>8, h.Protocol&0xff)
	}
	setupSects := int(data[offSetupSects])
	if setupSects == 0 {
		setupSects = 4
	}
	h.Version = kernelVersionString(data)

	start := uint64(setupSects+1)*512 + uint64(binary.LittleEndian.Uint32(data[offPayloadOffset:]))
	end := start + uint64(binary.LittleEndian.Uint32(data[offPayloadLength:]))
	if end > uint64(len(data)) || end-start < 8 {
		return h, fmt.Errorf("payload [%d, %d) lies outside the %d-byte file or is empty (truncated bzImage?)", start, end, len(data))
	}
	h.Payload = data[start:end]
	return h, nil
}

// kernelVersionString returns the first word of the version string the
// setup header points at ("6.1.0-56-cloud-amd64"), or "" if there is none.
func kernelVersionString(data []byte) string {
	ptr := int(binary.LittleEndian.Uint16(data[offKernelVersion:]))
	if ptr == 0 {
		return ""
	}
	at := ptr + 0x200
	if at >= len(data) {
		return ""
	}
	s := data[at:min(len(data), at+256)]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	f := strings.Fields(string(s))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// ExtractVmlinux returns the uncompressed ELF vmlinux held in data, which is
// either a bzImage (whose payload is decompressed by its magic) or already
// an ELF (returned as is). version is the one the bzImage header names, ""
// for an ELF.
func ExtractVmlinux(data []byte) (vmlinux []byte, version string, err error) {
	if bytes.HasPrefix(data, elfMagic) {
		return data, "", nil
	}
	h, err := parseBzImage(data)
	if err != nil {
		return nil, "", err
	}
	out, codec, err := decompressPayload(h.Payload)
	if err != nil {
		return nil, h.Version, err
	}
	if !bytes.HasPrefix(out, elfMagic) {
		return nil, h.Version, fmt.Errorf("%s payload decompressed to %d bytes that are not an ELF (starts %q)", codec, len(out), out[:min(len(out), 4)])
	}
	return out, h.Version, nil
}

// ExtractVmlinuxFile is ExtractVmlinux on the file at path; errors name it.
func ExtractVmlinuxFile(path string) (vmlinux []byte, version string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading kernel: %w", err)
	}
	vmlinux, version, err = ExtractVmlinux(data)
	if err != nil {
		return nil, version, fmt.Errorf("extracting vmlinux from %s: %w", path, err)
	}
	return vmlinux, version, nil
}
