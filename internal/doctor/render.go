package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText renders the report for a terminal: one line per check, its fix
// indented below it, then the VMM verdict.
func (r Report) WriteText(w io.Writer) error {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-*s  %s\n", strings.ToUpper(string(c.Status)), width, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(&b, "%-4s  %-*s  fix: %s\n", "", width, "", c.Fix)
		}
	}
	verdict := "can run guests"
	if !r.VMMUsable("") {
		verdict = "CANNOT run guests"
	}
	fmt.Fprintf(&b, "\nbanger will use %s with %s: %s.\n", r.Driver, r.Accel, verdict)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing doctor report: %w", err)
	}
	return nil
}

// WriteJSON renders the report as one indented JSON object (for --json).
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing doctor report: %w", err)
	}
	return nil
}
