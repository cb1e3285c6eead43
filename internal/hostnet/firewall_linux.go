package hostnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/nftables"
)

// EnsureFirewall replaces the content of banger's own table (inet family,
// Config.Table) with buildRuleset's chains and rules, in one nf_tables
// transaction: the table is added, deleted and added again, so a second
// call yields exactly the same rules and no packet sees a half-built table.
// Other tables are never read or changed.
func (l *Linux) EnsureFirewall(ctx context.Context) error {
	l.mu.Lock() // one host change at a time: concurrent creates share the bridge
	defer l.mu.Unlock()
	if err := l.check(ctx); err != nil {
		return err
	}
	rs, err := buildRuleset(l.cfg)
	if err != nil {
		return fmt.Errorf("building firewall rules: %w", err)
	}
	if err := l.rec.Record(ctx, Object{Kind: KindTable, Name: l.cfg.Table}); err != nil {
		return fmt.Errorf("recording nftables table %s: %w", l.cfg.Table, err)
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("opening nftables: %w", err)
	}
	// Adding an existing table is a no-op, so the delete never fails.
	c.AddTable(rs.Table)
	c.DelTable(rs.Table)
	c.AddTable(rs.Table)
	for _, ch := range rs.Chains {
		c.AddChain(ch.Chain)
		for _, r := range ch.Rules {
			c.AddRule(r)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("installing nftables table %s: %w", l.cfg.Table, err)
	}
	return nil
}

// deleteTable deletes banger's table if it exists, then forgets it.
func (l *Linux) deleteTable(ctx context.Context, name string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("opening nftables: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: name}
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("deleting nftables table %s: %w", name, err)
	}
	if err := l.rec.Forget(ctx, KindTable, name); err != nil {
		return fmt.Errorf("forgetting nftables table %s: %w", name, err)
	}
	return nil
}

// readRuleset reads banger's table back from the kernel in the shape
// buildRuleset produces; ok is false when the table does not exist.
func readRuleset(name string) (rs ruleset, ok bool, err error) {
	c, err := nftables.New()
	if err != nil {
		return ruleset{}, false, fmt.Errorf("opening nftables: %w", err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return ruleset{}, false, fmt.Errorf("listing nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == name {
			rs.Table, ok = t, true
		}
	}
	if !ok {
		return ruleset{}, false, nil
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return ruleset{}, false, fmt.Errorf("listing chains of %s: %w", name, err)
	}
	for _, ch := range chains {
		if ch.Table.Name != name {
			continue
		}
		rules, err := c.GetRules(rs.Table, ch)
		if err != nil {
			return ruleset{}, false, fmt.Errorf("listing rules of %s/%s: %w", name, ch.Name, err)
		}
		rs.Chains = append(rs.Chains, chainRules{Chain: ch, Rules: rules})
	}
	return rs, true, nil
}

// ipForward is the sysctl EnsureBridge turns on: guests' traffic is routed.
const ipForward = "net.ipv4.ip_forward"

func sysctlPath(name string) string {
	return "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
}

// readSysctl reads a sysctl of the calling thread's network namespace.
func readSysctl(name string) (string, error) {
	b, err := os.ReadFile(sysctlPath(name))
	if err != nil {
		return "", fmt.Errorf("reading sysctl %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(name, value string) error {
	if err := os.WriteFile(sysctlPath(name), []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing sysctl %s=%s: %w", name, value, err)
	}
	return nil
}

// ensureForwarding turns on IPv4 forwarding. The value found is recorded
// before the change (Owner holds it) and only when banger changes it, so a
// second call, or a host that already forwards, records nothing new.
func (l *Linux) ensureForwarding(ctx context.Context) error {
	cur, err := readSysctl(ipForward)
	if err != nil {
		return err
	}
	if cur == "1" {
		return nil
	}
	if _, ok, err := l.recorded(ctx, KindSysctl, ipForward); err != nil {
		return err
	} else if !ok {
		if err := l.rec.Record(ctx, Object{Kind: KindSysctl, Name: ipForward, Owner: cur}); err != nil {
			return fmt.Errorf("recording sysctl %s: %w", ipForward, err)
		}
	}
	if err := writeSysctl(ipForward, "1"); err != nil {
		return err
	}
	l.log.Info("enabled IPv4 forwarding", "was", cur)
	return nil
}

// restoreSysctl writes back the recorded old value, then forgets it.
func (l *Linux) restoreSysctl(ctx context.Context, o Object) error {
	if err := writeSysctl(o.Name, o.Owner); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := l.rec.Forget(ctx, KindSysctl, o.Name); err != nil {
		return fmt.Errorf("forgetting sysctl %s: %w", o.Name, err)
	}
	return nil
}
