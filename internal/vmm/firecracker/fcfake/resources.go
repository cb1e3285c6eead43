package fcfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// Resource handlers. Each checks what Firecracker checks at the same
// moment: files are opened when the resource is PUT, the kernel is loaded
// at InstanceStart.

func (s *Server) putMachine(w http.ResponseWriter, key string, body []byte) string {
	mc := s.machine
	if key == "PUT /machine-config" {
		// PUT resets the optional fields to their defaults.
		mc = machineConfig{HugePages: "None"}
	}
	if err := json.Unmarshal(body, &mc); err != nil {
		return fmt.Sprintf("An error occurred when deserializing the json body of a request: %v.", err)
	}
	if mc.Smt && mc.VcpuCount > 1 && mc.VcpuCount%2 != 0 {
		return "The vCPU number is invalid! The vCPU number can only be 1 or an even number when SMT is enabled."
	}
	if mc.MemSizeMib == 0 {
		return "The memory size (MiB) is invalid."
	}
	s.machine = mc
	noContent(w)
	return ""
}

func (s *Server) putBoot(w http.ResponseWriter, body []byte) string {
	var b bootSource
	if err := json.Unmarshal(body, &b); err != nil {
		return err.Error()
	}
	if f, err := os.Open(b.KernelImagePath); err != nil {
		return fmt.Sprintf("The kernel file cannot be opened: %v", err)
	} else {
		_ = f.Close()
	}
	if b.InitrdPath != "" {
		if f, err := os.Open(b.InitrdPath); err != nil {
			return fmt.Sprintf("The initrd file cannot be opened due to invalid path or invalid permissions. %v", err)
		} else {
			_ = f.Close()
		}
	}
	s.boot = &b
	noContent(w)
	return ""
}

func (s *Server) putDrive(w http.ResponseWriter, id string, body []byte) string {
	var d drive
	if err := json.Unmarshal(body, &d); err != nil {
		return err.Error()
	}
	if d.DriveID != id {
		return fmt.Sprintf("The id from the path [%s] does not match the id from the body [%s]!", id, d.DriveID)
	}
	if d.Socket == "" {
		if d.PathOnHost == "" || d.IsReadOnly == nil {
			return "Unable to create the block device: path_on_host and is_read_only are required for virtio-block."
		}
		flag := os.O_RDWR
		if *d.IsReadOnly {
			flag = os.O_RDONLY
		}
		f, err := os.OpenFile(d.PathOnHost, flag, 0)
		if err != nil {
			return fmt.Sprintf("Unable to create the block device: BackingFile(%v, %q)", err, d.PathOnHost)
		}
		_ = f.Close()
	}
	idx := -1
	for i, o := range s.drives {
		if o.DriveID == id {
			idx = i
		} else if o.IsRootDevice && d.IsRootDevice {
			return "A root block device already exists!"
		}
	}
	if idx >= 0 {
		s.drives[idx] = d
	} else {
		s.drives = append(s.drives, d)
	}
	noContent(w)
	return ""
}

// putNet accepts any host_dev_name: opening a tap needs root and a real
// device, which the fake does not require (the real VMM answers
// "Open tap device failed" when it is missing).
func (s *Server) putNet(w http.ResponseWriter, id string, body []byte) string {
	var n netIf
	if err := json.Unmarshal(body, &n); err != nil {
		return err.Error()
	}
	if n.IfaceID != id {
		return fmt.Sprintf("The id from the path [%s] does not match the id from the body [%s]!", id, n.IfaceID)
	}
	if n.GuestMAC != "" {
		if hw, err := net.ParseMAC(n.GuestMAC); err != nil || len(hw) != 6 {
			return fmt.Sprintf("An error occurred when deserializing the json body of a request: invalid MAC address %q.", n.GuestMAC)
		}
	}
	for i, o := range s.nets {
		if o.IfaceID == id {
			s.nets[i] = n
			noContent(w)
			return ""
		}
		if o.HostDevName == n.HostDevName {
			return fmt.Sprintf("The host device name %s is already in use.", n.HostDevName)
		}
		if n.GuestMAC != "" && o.GuestMAC == n.GuestMAC {
			return fmt.Sprintf("The MAC address is already in use: %s", n.GuestMAC)
		}
	}
	s.nets = append(s.nets, n)
	noContent(w)
	return ""
}

// putVsock binds uds_path at once, as the real unix backend does: a stale
// socket file makes the call fail.
func (s *Server) putVsock(w http.ResponseWriter, body []byte) string {
	var v vsockConfig
	if err := json.Unmarshal(body, &v); err != nil {
		return err.Error()
	}
	if s.mux != nil {
		s.mux.close()
		s.mux = nil
	}
	mux, err := listenVsock(v.UDSPath, s)
	if err != nil {
		return fmt.Sprintf("Cannot create backend for vsock device: %v", err)
	}
	s.mux = mux
	s.vsock = &v
	noContent(w)
	return ""
}

func (s *Server) action(w http.ResponseWriter, body []byte) string {
	var a struct {
		ActionType string `json:"action_type"`
	}
	_ = json.Unmarshal(body, &a)
	switch a.ActionType {
	case "InstanceStart":
		if s.started {
			return msgPostBoot
		}
		if msg := s.boot1(); msg != "" {
			return msg
		}
	case "SendCtrlAltDel":
		if !s.started {
			return msgPreBoot
		}
		if !s.exiting && !s.cfg.IgnoreCtrlAltDel {
			s.exiting = true
			// With reboot=k the guest resets; the VMM then exits 0.
			go func() {
				time.Sleep(100 * time.Millisecond)
				fmt.Fprintf(s.cfg.Console, "%s\n", ShutdownMarker)
				s.cfg.Exit(0)
			}()
		}
	}
	noContent(w)
	return ""
}

// boot1 loads the kernel (it must be an ELF vmlinux on x86_64) and starts
// the guest.
func (s *Server) boot1() string {
	if s.boot == nil {
		return msgNoKernel
	}
	f, err := os.Open(s.boot.KernelImagePath)
	if err != nil {
		return fmt.Sprintf("The kernel file cannot be opened: %v", err)
	}
	magic := make([]byte, 4)
	_, err = f.Read(magic)
	_ = f.Close()
	if err != nil || !bytes.Equal(magic, []byte("\x7fELF")) {
		return "Cannot load kernel due to invalid memory configuration or invalid kernel image: Failed to load ELF kernel image: Invalid ELF magic number"
	}
	s.started = true
	s.readyAt = time.Now().Add(s.cfg.GuestReadyDelay)
	// The marker appears once the guest listeners are up.
	time.AfterFunc(s.cfg.GuestReadyDelay, func() {
		fmt.Fprintf(s.cfg.Console, "%s\n", ReadyMarker)
	})
	fmt.Fprintf(s.cfg.Console, "[    0.000000] Linux version 6.1.0-fcfake (fcfake@banger) #1 SMP\n")
	fmt.Fprintf(s.cfg.Console, "[    0.000000] Command line: %s\n", s.boot.BootArgs)
	fmt.Fprintf(s.cfg.Console, "[    0.000000] fcfake: %d vCPUs, %d MiB, %d drives, %d NICs\n",
		s.machine.VcpuCount, s.machine.MemSizeMib, len(s.drives), len(s.nets))
	return ""
}

// guestListening reports whether the guest accepts vsock connections on
// port now.
func (s *Server) guestListening(port uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.exiting || time.Now().Before(s.readyAt) {
		return false
	}
	for _, p := range s.cfg.EchoPorts {
		if p == port {
			return true
		}
	}
	return false
}
