package keychain

import (
	"sync"
)

// memory keeps values in a map; it is for tests of the packages above.
type memory struct {
	mu     sync.Mutex
	values map[string][]byte
}

// NewMemory returns an empty in-memory backend for tests.
func NewMemory() Backend {
	return &memory{values: map[string][]byte{}}
}

func (m *memory) Name() string { return "memory" }

func (m *memory) Get(ref Ref) ([]byte, error) {
	if err := ref.validate(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.values[ref.Account()]
	if !ok {
		return nil, errorf(ErrNotFound, "keychain: secret %q not found", ref.Account())
	}
	return append([]byte{}, v...), nil
}

func (m *memory) Set(ref Ref, value []byte) error {
	if err := ref.validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[ref.Account()] = append([]byte{}, value...)
	return nil
}

func (m *memory) Delete(ref Ref) error {
	if err := ref.validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.values[ref.Account()]; !ok {
		return errorf(ErrNotFound, "keychain: secret %q not found", ref.Account())
	}
	delete(m.values, ref.Account())
	return nil
}

// GetMany copies the values of refs under one lock.
func (m *memory) GetMany(refs []Ref) (map[Ref][]byte, error) {
	if err := validateAll(refs); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	values := make(map[Ref][]byte, len(refs))
	for _, ref := range refs {
		if v, ok := m.values[ref.Account()]; ok {
			values[ref] = append([]byte{}, v...)
		}
	}
	return values, nil
}
