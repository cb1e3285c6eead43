package daemon

import (
	"context"

	"banger/internal/hostnet"
	"banger/internal/store"
)

// HostObjectStore is the part of the store that remembers host objects.
type HostObjectStore interface {
	RecordHostObject(ctx context.Context, o store.HostObject) error
	ForgetHostObject(ctx context.Context, kind, name string) error
	ListHostObjects(ctx context.Context) ([]store.HostObject, error)
}

// StoreRecorder is the hostnet.Recorder that keeps hostnet's record in the
// store, so a later daemon (or `banger system teardown`) removes exactly
// what an earlier one created. Same idempotency as the store's methods.
type StoreRecorder struct {
	Store HostObjectStore
}

var _ hostnet.Recorder = StoreRecorder{}

func (r StoreRecorder) Record(ctx context.Context, o hostnet.Object) error {
	return r.Store.RecordHostObject(ctx, store.HostObject{Kind: o.Kind, Name: o.Name, Owner: o.Owner})
}

func (r StoreRecorder) Forget(ctx context.Context, kind, name string) error {
	return r.Store.ForgetHostObject(ctx, kind, name)
}

func (r StoreRecorder) Objects(ctx context.Context) ([]hostnet.Object, error) {
	hos, err := r.Store.ListHostObjects(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]hostnet.Object, len(hos))
	for i, o := range hos {
		out[i] = hostnet.Object{Kind: o.Kind, Name: o.Name, Owner: o.Owner}
	}
	return out, nil
}
