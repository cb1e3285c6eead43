package qemu

import (
	"path/filepath"
	"strconv"
	"strings"

	"banger/internal/vmm"
)

// AgentPortName is the virtio-serial port name of the guest agent channel;
// with udev the guest sees it as /dev/virtio-ports/banger.agent.
const AgentPortName = "banger.agent"

// Accelerators.
const (
	AccelKVM = "kvm"
	AccelTCG = "tcg"
)

// maxMMIODevices is the number of virtio-mmio transports of QEMU's microvm
// (24: measured with QEMU 7.2, a 25th device finds no virtio-bus). The agent
// port's virtio-serial-device takes one of them.
const maxMMIODevices = 24

// Paths are the files of one instance inside its run dir.
type Paths struct {
	RunDir     string
	QMPSock    string // QMP control socket
	AgentSock  string // unix-socket chardev behind the agent virtio port
	ConsoleLog string // ttyS0 output
	StderrLog  string // QEMU's own stderr (errors, warnings)
}

// PathsFor returns the instance files under runDir.
func PathsFor(runDir string) Paths {
	return Paths{
		RunDir:     runDir,
		QMPSock:    filepath.Join(runDir, "qmp.sock"),
		AgentSock:  filepath.Join(runDir, "agent.sock"),
		ConsoleLog: filepath.Join(runDir, "console.log"),
		StderrLog:  filepath.Join(runDir, "qemu.stderr"),
	}
}

// KernelCmdline is spec's portable command line plus what microvm needs:
// the console on the ISA serial port, and panic=-1 so that a panicking
// guest reboots, which -no-reboot turns into QEMU exiting (instead of a
// dead guest that keeps the process alive).
func KernelCmdline(portable string) string {
	parts := strings.Fields(portable)
	has := func(prefix string) bool {
		for _, p := range parts {
			if strings.HasPrefix(p, prefix) {
				return true
			}
		}
		return false
	}
	if !has("console=ttyS0") {
		parts = append(parts, "console=ttyS0")
	}
	if !has("panic=") {
		parts = append(parts, "panic=-1")
	}
	return strings.Join(parts, " ")
}

// BuildArgs returns QEMU's argv (without the binary) for spec. It is a pure
// function of its inputs; Validate the spec first.
//
// Choices, as documented for the microvm machine (QEMU docs/system/i386/
// microvm.rst, found with the search tool, corpus docs: "microvm is a
// machine type inspired by Firecracker", up to 24 virtio-mmio devices in
// 7.2, options acpi=, isa-serial=, auto-kernel-cmdline=; hw/i386/microvm.h:
// with acpi=on the GED device delivers system_powerdown as an ACPI power
// button event) and measured with QEMU 7.2 on the test machines:
//   - no -nodefaults: it removes the ISA serial port and the console is empty;
//   - acpi=on: the guest finds the virtio-mmio devices through ACPI and gets
//     a power button, so Shutdown can be graceful;
//   - -cpu max under TCG: the default model lacks SSE4.2/AVX that guest
//     programs need;
//   - -no-reboot: a guest reboot ends the process (the lifecycle restarts
//     VMs, not QEMU);
//   - no -daemonize/-pidfile: the driver starts QEMU itself in a new
//     session and records PID + start time, which survive the daemon.
func BuildArgs(spec vmm.Spec, accel string, paths Paths) []string {
	name := "banger"
	if spec.ID != "" {
		name += "-" + spec.ID
	}
	args := []string{
		"-name", escape(name),
		"-no-user-config",
		"-M", "microvm,acpi=on",
	}
	if accel == AccelKVM {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		args = append(args, "-accel", "tcg", "-cpu", "max")
	}
	args = append(args,
		"-smp", strconv.Itoa(spec.VCPUs),
		"-m", strconv.Itoa(spec.MemoryMiB)+"M",
		"-kernel", spec.Kernel,
	)
	if spec.Initrd != "" {
		args = append(args, "-initrd", spec.Initrd)
	}
	args = append(args,
		"-append", KernelCmdline(spec.Cmdline),
		"-display", "none",
		"-monitor", "none",
		"-serial", "file:"+paths.ConsoleLog,
		"-no-reboot",
		"-qmp", "unix:"+escape(paths.QMPSock)+",server=on,wait=off",
	)
	for i, d := range spec.Disks {
		id := "disk" + strconv.Itoa(i)
		drive := "id=" + id + ",if=none,file=" + escape(d.Path) + ",format=" + d.Format
		if d.ReadOnly {
			drive += ",readonly=on"
		}
		args = append(args, "-drive", drive, "-device", "virtio-blk-device,drive="+id)
	}
	for i, n := range spec.NICs {
		id := "net" + strconv.Itoa(i)
		args = append(args,
			"-netdev", "tap,id="+id+",ifname="+n.Tap+",script=no,downscript=no",
			"-device", "virtio-net-device,netdev="+id+",mac="+n.MAC,
		)
	}
	args = append(args,
		"-device", "virtio-serial-device",
		"-chardev", "socket,id=agent,path="+escape(paths.AgentSock)+",server=on,wait=off",
		"-device", "virtserialport,chardev=agent,name="+AgentPortName,
	)
	return args
}

// escape doubles commas, QEMU's escape inside option values.
func escape(s string) string { return strings.ReplaceAll(s, ",", ",,") }
