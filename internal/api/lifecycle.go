package api

// SSHInfo is how to log into a VM with banger's key (GET /v1/vms/{name}/ssh).
type SSHInfo struct {
	Host    string `json:"host"`
	Port    int    `json:"port"`
	User    string `json:"user"`
	KeyPath string `json:"key_path"`
}

// ImportKernelRequest is the body of POST /v1/kernels. With Kernel empty the
// daemon imports the newest kernel of the host's /boot.
type ImportKernelRequest struct {
	Name    string `json:"name,omitempty"` // default: the kernel version
	Kernel  string `json:"kernel,omitempty"`
	Initrd  string `json:"initrd,omitempty"`
	Modules string `json:"modules,omitempty"` // /lib/modules/<ver>
}

// BootstrapImageRequest is the body of POST /v1/images/bootstrap.
type BootstrapImageRequest struct {
	Name     string   `json:"name,omitempty"`   // default "debian-<suite>"
	Kernel   string   `json:"kernel,omitempty"` // whose modules go in; default the newest
	Suite    string   `json:"suite,omitempty"`  // default bookworm
	Size     string   `json:"size,omitempty"`   // e.g. "2G"
	Packages []string `json:"packages,omitempty"`
}

// Event is one line of a streamed (NDJSON) answer: progress lines, then
// exactly one of Image or Error.
type Event struct {
	Phase string `json:"phase,omitempty"`
	Line  string `json:"line,omitempty"`
	Image *Image `json:"image,omitempty"`
	Error *Error `json:"error,omitempty"`
}
