package keychain

import (
	"errors"
	"fmt"
	"time"

	"github.com/zalando/go-keyring"
)

// osKeychain stores values in the OS keychain through go-keyring.
type osKeychain struct {
	timeout time.Duration
}

func newOSKeychain(timeout time.Duration) *osKeychain {
	return &osKeychain{timeout: timeout}
}

func (k *osKeychain) Name() string { return KindKeychain }

func (k *osKeychain) Get(ref Ref) ([]byte, error) {
	if err := ref.validate(); err != nil {
		return nil, err
	}
	value, err := withTimeout(k.timeout, func() (string, error) {
		return keyring.Get(ServiceName, ref.Account())
	})
	if err != nil {
		return nil, mapKeyringError("get", ref, err)
	}
	return []byte(value), nil
}

func (k *osKeychain) Set(ref Ref, value []byte) error {
	if err := ref.validate(); err != nil {
		return err
	}
	_, err := withTimeout(k.timeout, func() (struct{}, error) {
		return struct{}{}, keyring.Set(ServiceName, ref.Account(), string(value))
	})
	if err != nil {
		return mapKeyringError("set", ref, err)
	}
	return nil
}

func (k *osKeychain) Delete(ref Ref) error {
	if err := ref.validate(); err != nil {
		return err
	}
	_, err := withTimeout(k.timeout, func() (struct{}, error) {
		return struct{}{}, keyring.Delete(ServiceName, ref.Account())
	})
	if err != nil {
		return mapKeyringError("delete", ref, err)
	}
	return nil
}

// Check looks probeRef up, which is never stored, the way a Delete finds
// its item: go-keyring unlocks the login collection first, so a keychain
// that is locked (an unlock prompt nobody answers) or does not answer
// fails here, within the timeout, with ErrUnavailable, before a caller
// changes anything else.
func (k *osKeychain) Check() error {
	_, err := withTimeout(k.timeout, func() (string, error) {
		return keyring.Get(ServiceName, probeRef.Account())
	})
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return errorf(ErrUnavailable, "keychain: OS keychain unavailable: %v (unlock the keychain or start a Secret Service such as gnome-keyring, then run the command again)", err)
}

// probeKeychain is nil when the OS keychain answers. By default it looks
// probeRef up ("not found" is an answer); the Secret Service replaces it
// with a check that asks for no unlock.
var probeKeychain = func() error {
	_, err := keyring.Get(ServiceName, probeRef.Account())
	if errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return err
}

// withTimeout runs call in a goroutine and gives up after timeout. An
// abandoned call keeps running in the background; its result is dropped.
func withTimeout[T any](timeout time.Duration, call func() (T, error)) (T, error) {
	if !sessionBusKnown() {
		var zero T
		return zero, errNoSessionBus
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := call()
		done <- result{v, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-timer.C:
		var zero T
		return zero, fmt.Errorf("no answer within %s", timeout)
	}
}

// mapKeyringError turns a go-keyring error into ErrNotFound or
// ErrUnavailable. go-keyring and D-Bus errors carry no secret value.
func mapKeyringError(op string, ref Ref, err error) error {
	if errors.Is(err, keyring.ErrNotFound) {
		return errorf(ErrNotFound, "keychain: secret %q not found", ref.Account())
	}
	if errors.Is(err, keyring.ErrSetDataTooBig) {
		return fmt.Errorf("keychain: %s %q: value too large for the OS keychain, which limits the size of an item", op, ref.Account())
	}
	return errorf(ErrUnavailable, "keychain: %s %q: OS keychain unavailable: %v (unlock the keychain or start a Secret Service such as gnome-keyring; AGENTSECRETS_BACKEND=file keeps values in an encrypted file instead, without those stored here)", op, ref.Account(), err)
}
