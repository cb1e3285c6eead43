package proto

import "strings"

// The stream preamble. Before yamux starts on a fresh stream (a new vsock
// connection, or a serial port the host has just (re)opened), the host
// writes HelloLine(nonce); the guest discards every byte until it sees a
// hello line, answers ReadyLine(nonce) and starts a yamux server. The host
// discards every byte until that ready line (stale output of an earlier
// session), then starts a yamux client. A serial port never tells the guest
// that the host went away, so a hello that arrives while a session runs
// breaks that session's yamux framing; the guest then goes back to waiting
// for a hello. The host repeats its hello, preceded by ResyncPadding
// newlines, until the ready line arrives.
const (
	helloPrefix = "BANGER-AGENT-HELLO v1 "
	readyPrefix = "BANGER-AGENT-READY v1 "
	// ResyncPadding newlines precede a repeated hello: enough to finish any
	// yamux frame body (at most one 256 KiB window) the guest was reading,
	// and each newline is an invalid yamux version byte.
	ResyncPadding = 256<<10 + 64
)

// HelloLine is the host's preamble line for nonce (no spaces or newlines).
func HelloLine(nonce string) string { return helloPrefix + nonce + "\n" }

// ReadyLine is the guest's answer to HelloLine(nonce).
func ReadyLine(nonce string) string { return readyPrefix + nonce + "\n" }

// ParseHello returns the nonce of a hello line (without its newline).
func ParseHello(line string) (string, bool) { return cut(line, helloPrefix) }

// ParseReady returns the nonce of a ready line (without its newline).
func ParseReady(line string) (string, bool) { return cut(line, readyPrefix) }

func cut(line, prefix string) (string, bool) {
	i := strings.LastIndex(line, prefix)
	if i < 0 {
		return "", false
	}
	nonce := strings.TrimRight(line[i+len(prefix):], "\r\n")
	if nonce == "" || strings.ContainsAny(nonce, " \n") {
		return "", false
	}
	return nonce, true
}
