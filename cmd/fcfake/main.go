// Command fcfake is a stand-in for the firecracker v1.16.1 binary, for
// testing banger's Firecracker driver on machines without Firecracker.
package main

import (
	"os"

	"banger/internal/vmm/firecracker/fcfake"
)

func main() {
	os.Exit(fcfake.Main(os.Args[1:], os.Stdout, os.Stderr))
}
