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
