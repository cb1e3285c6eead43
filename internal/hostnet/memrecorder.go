package hostnet

import (
	"context"
	"slices"
	"sync"
)

// MemRecorder is a Recorder kept in memory, for tests and for callers with
// no store. It follows the Recorder contract: Record of an already recorded
// kind and name replaces it, Forget of an unknown one is not an error.
// The zero value is ready to use.
type MemRecorder struct {
	mu   sync.Mutex
	objs []Object
}

var _ Recorder = (*MemRecorder)(nil)

// Record notes o, replacing any object of the same kind and name.
func (m *MemRecorder) Record(_ context.Context, o Object) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.objs {
		if x.Kind == o.Kind && x.Name == o.Name {
			m.objs[i] = o
			return nil
		}
	}
	m.objs = append(m.objs, o)
	return nil
}

// Forget drops the object of kind and name, if recorded.
func (m *MemRecorder) Forget(_ context.Context, kind, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs = slices.DeleteFunc(m.objs, func(x Object) bool { return x.Kind == kind && x.Name == name })
	return nil
}

// Objects lists the recorded objects in the order they were first recorded.
func (m *MemRecorder) Objects(context.Context) ([]Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.objs), nil
}
