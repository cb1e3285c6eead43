package vm

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// step is one idempotent part of a VM operation, in the style of flintlock:
// do makes the change, undo reverts it. undo runs only for steps whose do
// succeeded, in reverse order, when a later step fails.
type step struct {
	name string
	do   func(ctx context.Context) error
	undo func(ctx context.Context) error // may be nil
}

// rollbackTimeout bounds the cleanup of a failed operation. Cleanup runs on a
// context detached from the caller's so a cancelled request still cleans up.
const rollbackTimeout = 60 * time.Second

// runSteps runs steps in order. On the first failure it undoes the completed
// steps in reverse order and returns errors.Join(err, rollbackErrs...).
func runSteps(ctx context.Context, steps []step) error {
	for i, s := range steps {
		if err := s.do(ctx); err != nil {
			err = fmt.Errorf("%s: %w", s.name, err)
			return errors.Join(err, rollback(ctx, steps[:i]))
		}
	}
	return nil
}

func rollback(ctx context.Context, done []step) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	var errs []error
	for i := len(done) - 1; i >= 0; i-- {
		if done[i].undo == nil {
			continue
		}
		if err := done[i].undo(cctx); err != nil {
			errs = append(errs, fmt.Errorf("rolling back %s: %w", done[i].name, err))
		}
	}
	return errors.Join(errs...)
}
