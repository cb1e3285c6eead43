// Package api holds the wire types and error codes of the banger daemon's
// HTTP+JSON API (served on a unix socket under /v1). It is shared by the
// daemon and its clients and imports no other banger package, so a client
// never drags daemon code in.
package api

import "time"

// Version is the API version prefix of every route.
const Version = "v1"

// VM is the client's view of one VM.
type VM struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	State         string `json:"state"`
	Image         string `json:"image,omitempty"`  // image name (id when the image is gone)
	Kernel        string `json:"kernel,omitempty"` // kernel name (id when the kernel is gone)
	VCPUs         int    `json:"vcpus"`
	MemoryMiB     int    `json:"memory_mib"`
	DiskSizeBytes int64  `json:"disk_size_bytes"`
	VMM           string `json:"vmm,omitempty"`
	IP            string `json:"ip,omitempty"`
	MAC           string `json:"mac,omitempty"`
	Tap           string `json:"tap,omitempty"`
	// Accel and PID describe the running VMM process (empty when stopped).
	Accel     string    `json:"accel,omitempty"`
	PID       int       `json:"pid,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Image is the client's view of one root filesystem image.
type Image struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	SizeBytes int64     `json:"size_bytes"`
	Kernel    string    `json:"kernel,omitempty"` // kernel name (id when the kernel is gone)
	CreatedAt time.Time `json:"created_at"`
}

// Kernel is the client's view of one imported guest kernel.
type Kernel struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Version   string    `json:"version,omitempty"`
	Path      string    `json:"path"`
	Initrd    string    `json:"initrd,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// VersionInfo answers GET /v1/version.
type VersionInfo struct {
	Version   string `json:"version"`    // daemon build version
	GoVersion string `json:"go_version"` // Go toolchain that built the daemon
	API       string `json:"api"`        // API version, Version
}

// Health answers GET /v1/healthz.
type Health struct {
	Status string `json:"status"` // "ok"
}

// TeardownResult answers POST /v1/system/teardown.
type TeardownResult struct {
	// Done is false when the daemon has no host network configured, so
	// there was nothing recorded to remove.
	Done    bool   `json:"done"`
	Message string `json:"message"`
	// Leftovers are what still exists of banger's network after the
	// teardown ("bridge banger0"); empty when it is complete.
	Leftovers []string `json:"leftovers,omitempty"`
}
