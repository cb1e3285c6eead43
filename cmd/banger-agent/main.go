// Command banger-agent is banger's guest agent. It runs inside every VM.
// Placeholder until the "Guest agent" issue fills it in.
package main

import (
	"fmt"
	"os"
)

var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(version)
		return
	}
	fmt.Fprintln(os.Stderr, "banger-agent: not implemented yet")
	os.Exit(1)
}
