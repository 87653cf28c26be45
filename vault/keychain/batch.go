package keychain

import "errors"

// maxBatch is how many refs one Secret Service session reads under one
// timeout; a larger batch is read in several.
const maxBatch = 256

// BatchGetter is implemented by backends that read many values at a cost
// lower than one Get each: the Secret Service answers a batch in a few D-Bus
// round trips, the encrypted file is read and checked once.
type BatchGetter interface {
	// GetMany returns the values of refs by ref. A ref with no value is
	// absent from the map; an error means the backend failed as a whole
	// (ErrUnavailable, ErrNoPassphrase, ErrBadPassphrase) or an item could
	// not be opened (ErrTampered), and no value is returned.
	GetMany(refs []Ref) (map[Ref][]byte, error)
}

// GetMany reads the values of refs from b in one batch when b is a
// BatchGetter, else one Get at a time. It has BatchGetter.GetMany's
// contract: missing refs are absent from the map, any other failure is an
// error for the whole batch. Every ref is checked before anything is read.
func GetMany(b Backend, refs []Ref) (map[Ref][]byte, error) {
	if err := validateAll(refs); err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return map[Ref][]byte{}, nil
	}
	if bg, ok := b.(BatchGetter); ok {
		return bg.GetMany(refs)
	}
	return getEach(b, refs)
}

// getEach reads refs one Get at a time.
func getEach(b Backend, refs []Ref) (map[Ref][]byte, error) {
	values := make(map[Ref][]byte, len(refs))
	for _, ref := range refs {
		if _, done := values[ref]; done {
			continue
		}
		v, err := b.Get(ref)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, err
		default:
			values[ref] = v
		}
	}
	return values, nil
}

// validateAll checks every ref of a batch.
func validateAll(refs []Ref) error {
	for _, ref := range refs {
		if err := ref.validate(); err != nil {
			return err
		}
	}
	return nil
}
