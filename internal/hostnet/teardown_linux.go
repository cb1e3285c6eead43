package hostnet

import (
	"context"
	"errors"
	"fmt"
)

// Teardown removes every object hostnet recorded (taps, the nftables
// table, the bridge) and restores recorded sysctls, forgetting each one
// once it is gone. It never looks for objects by name pattern: what was not
// recorded stays. It goes on past failures and returns them joined; a
// second call finds nothing recorded and does nothing. Recorded objects of
// kinds hostnet does not own are left to their owners.
func (l *Linux) Teardown(ctx context.Context) error {
	l.mu.Lock() // one host change at a time: concurrent creates share the bridge
	defer l.mu.Unlock()
	if err := l.check(ctx); err != nil {
		return err
	}
	objs, err := l.rec.Objects(ctx)
	if err != nil {
		return fmt.Errorf("listing recorded host objects: %w", err)
	}
	var errs []error
	for _, kind := range teardownOrder {
		for _, o := range objs {
			if o.Kind != kind {
				continue
			}
			switch kind {
			case KindTap, KindBridge:
				err = l.removeLink(ctx, kind, o.Name)
			case KindTable:
				err = l.deleteTable(ctx, o.Name)
			case KindSysctl:
				err = l.restoreSysctl(ctx, o)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists what still exists of banger's network: every recorded
// tap, bridge and table that is present, every recorded sysctl, plus the configured bridge and
// table even if unrecorded (a store that lost its records). Empty after a
// successful Teardown; for `system teardown` to verify. Changes nothing.
func (l *Linux) Leftovers(ctx context.Context) ([]Object, error) {
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	objs, err := l.rec.Objects(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing recorded host objects: %w", err)
	}
	objs = append(objs, Object{Kind: KindBridge, Name: l.cfg.Bridge}, Object{Kind: KindTable, Name: l.cfg.Table})
	var out []Object
	seen := map[Object]bool{}
	for _, o := range objs {
		key := Object{Kind: o.Kind, Name: o.Name}
		if seen[key] {
			continue
		}
		seen[key] = true
		var present bool
		switch o.Kind {
		case KindTap, KindBridge:
			link, err := linkByName(o.Name)
			if err != nil {
				return nil, err
			}
			present = link != nil
		case KindTable:
			_, present, err = readRuleset(o.Name)
			if err != nil {
				return nil, err
			}
		case KindSysctl:
			present = true // recorded means not restored yet
		}
		if present {
			out = append(out, o)
		}
	}
	return out, nil
}
