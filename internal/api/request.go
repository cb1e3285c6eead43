package api

import (
	"fmt"
)

// Limits on what a client may ask for. They bound requests before any
// resource is touched; drivers may impose tighter limits of their own.
const (
	MaxVCPUs     = 64
	MaxMemoryMiB = 1 << 20 // 1 TiB
)

// CreateVMRequest is the body of POST /v1/vms. Zero values mean "the
// daemon's configured default".
type CreateVMRequest struct {
	Name      string `json:"name"`
	Image     string `json:"image,omitempty"`
	Kernel    string `json:"kernel,omitempty"`
	VCPUs     int    `json:"vcpus,omitempty"`
	MemoryMiB int    `json:"memory_mib,omitempty"`
	DiskSize  string `json:"disk_size,omitempty"` // e.g. "8G", "512M"
	VMM       string `json:"vmm,omitempty"`       // firecracker|qemu; "" = configured driver
}

// Validate checks the request's shape (not whether the image exists, nor
// disk_size, which the daemon parses with its config's size rules).
// It returns an *Error with CodeInvalidArgument naming the bad field.
func (r CreateVMRequest) Validate() error {
	if err := ValidateName("VM", r.Name); err != nil {
		return err
	}
	if r.Image != "" {
		if err := ValidateName("image", r.Image); err != nil {
			return err
		}
	}
	if r.Kernel != "" {
		if err := ValidateName("kernel", r.Kernel); err != nil {
			return err
		}
	}
	if r.VCPUs < 0 || r.VCPUs > MaxVCPUs {
		return Errorf(CodeInvalidArgument, "vcpus %d is out of range: use 1 to %d (or 0 for the default)", r.VCPUs, MaxVCPUs)
	}
	if r.MemoryMiB < 0 || r.MemoryMiB > MaxMemoryMiB {
		return Errorf(CodeInvalidArgument, "memory_mib %d is out of range: use 1 to %d (or 0 for the default)", r.MemoryMiB, MaxMemoryMiB)
	}
	switch r.VMM {
	case "", "firecracker", "qemu":
	default:
		return Errorf(CodeInvalidArgument, "vmm %q is unknown: use firecracker or qemu (or leave it empty for the configured driver)", r.VMM)
	}
	return nil
}

// NameRule is the rule ValidateName enforces, spelled out for messages.
const NameRule = "1-63 characters of lowercase letters, digits, '_', '.' and '-', starting with a letter or digit"

// ValidateName checks a VM, image or kernel name. kind ("VM", "image") is
// used in the message. Names end up in paths and device names, hence the
// tight rule: no '/', no spaces, no upper case.
func ValidateName(kind, s string) error {
	if s == "" {
		return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("%s name is empty", kind), Hint: "a name is " + NameRule}
	}
	if len(s) > 63 {
		return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("%s name %q is %d characters long", kind, s, len(s)), Hint: "a name is " + NameRule}
	}
	for i, c := range s {
		ok := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '.' || c == '-'))
		if !ok {
			return &Error{
				Code:    CodeInvalidArgument,
				Message: fmt.Sprintf("%s name %q is invalid: character %q at position %d is not allowed", kind, s, c, i+1),
				Hint:    "a name is " + NameRule,
			}
		}
	}
	return nil
}
