package keychain

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ServiceName is the service under which keychain items are stored.
const ServiceName = "agentsecrets"

// DefaultTimeout bounds each keychain call when Options.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// Backend kinds.
const (
	KindKeychain = "keychain"
	KindFile     = "file"
)

var (
	// ErrNotFound means no value is stored for the ref.
	ErrNotFound = errors.New("keychain: secret not found")
	// ErrUnavailable means the OS keychain did not answer.
	ErrUnavailable = errors.New("keychain: OS keychain unavailable")
	// ErrNoPassphrase means the file backend needs a passphrase and none
	// can be had (no AGENTSECRETS_PASSPHRASE, no terminal to ask on).
	ErrNoPassphrase = errors.New("keychain: no passphrase for the encrypted vault file")
	// ErrBadPassphrase means the passphrase does not open the vault file.
	ErrBadPassphrase = errors.New("keychain: wrong passphrase for the encrypted vault file")
	// ErrTampered means an item of the vault file failed authentication: it
	// was edited, truncated or moved from another item.
	ErrTampered = errors.New("keychain: encrypted item failed authentication (tampered or moved)")
)

// Ref names one secret value.
type Ref struct {
	Workspace, Project, Environment, Key string
}

// Account returns "workspace/project/environment/KEY", the keychain account
// of the ref.
func (r Ref) Account() string {
	return r.Workspace + "/" + r.Project + "/" + r.Environment + "/" + r.Key
}

// validate rejects refs whose account would be ambiguous.
func (r Ref) validate() error {
	for _, part := range []struct{ name, value string }{
		{"workspace", r.Workspace}, {"project", r.Project},
		{"environment", r.Environment}, {"key", r.Key},
	} {
		if part.value == "" {
			return fmt.Errorf("keychain: empty %s in ref %q", part.name, r.Account())
		}
		if strings.ContainsAny(part.value, "/\x00") {
			return fmt.Errorf("keychain: %s %q contains '/' or NUL", part.name, part.value)
		}
		if !utf8.ValidString(part.value) { // JSON and D-Bus would store another name
			return fmt.Errorf("keychain: %s %q is not valid UTF-8", part.name, part.value)
		}
	}
	return nil
}

// Backend stores values by ref.
type Backend interface {
	// Name is "keychain", "file" or "memory".
	Name() string
	// Get returns the value of ref, or ErrNotFound.
	Get(ref Ref) ([]byte, error)
	// Set stores value under ref, replacing any previous value.
	Set(ref Ref, value []byte) error
	// Delete removes ref's value, or returns ErrNotFound.
	Delete(ref Ref) error
}

// Checker is implemented by backends that can tell, without reading or
// changing a value, that they would refuse every removal: the encrypted
// file with a wrong passphrase, none, or a file that does not parse; the
// OS keychain locked or not answering.
type Checker interface {
	// Check returns the error a Delete would fail with whatever its ref,
	// or nil.
	Check() error
}

// Check returns b.Check() when b is a Checker. Any other backend is asked
// for probeRef, which is never stored: an error other than ErrNotFound is
// the one a removal would fail with. Callers that must change something
// else before they write to b (the index before the values it no longer
// lists are removed) call it first, so that a backend that refuses
// changes nothing.
func Check(b Backend) error {
	if c, ok := b.(Checker); ok {
		return c.Check()
	}
	if _, err := b.Get(probeRef); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// Options select and configure a backend.
type Options struct {
	// Dir is the agentsecrets home. The file backend keeps Dir/vault.enc
	// and locks Dir/.vault.lock.
	Dir string
	// Kind is "" (automatic), "keychain" or "file".
	Kind string
	// Passphrase returns the passphrase of the file backend. It is called
	// lazily, at most once, and only when the file backend needs its key.
	// Nil, or a function returning ErrNoPassphrase, gives ErrNoPassphrase.
	Passphrase func() ([]byte, error)
	// Timeout bounds each keychain call; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Open returns the backend opts select.
func Open(opts Options) (Backend, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	switch opts.Kind {
	case "":
		if KeychainAvailable(timeout) {
			return newOSKeychain(timeout), nil
		}
		return newFile(opts.Dir, opts.Passphrase)
	case KindKeychain:
		if !KeychainAvailable(timeout) {
			return nil, errorf(ErrUnavailable, "keychain: no OS keychain answered within %s (start a Secret Service such as gnome-keyring, or set AGENTSECRETS_BACKEND=file)", timeout)
		}
		return newOSKeychain(timeout), nil
	case KindFile:
		return newFile(opts.Dir, opts.Passphrase)
	default:
		return nil, fmt.Errorf("keychain: unknown backend %q (set AGENTSECRETS_BACKEND to %q or %q, or leave it empty to choose automatically)", opts.Kind, KindKeychain, KindFile)
	}
}

// probeRef is looked up to see whether the OS keychain answers; it is
// never stored.
var probeRef = Ref{Workspace: "_probe", Project: "_probe", Environment: "_probe", Key: "AVAILABILITY_PROBE"}

// KeychainAvailable reports whether the OS keychain answers probeKeychain
// within timeout (0 means DefaultTimeout). A locked keychain is available:
// the probe must not wait on an unlock prompt and then report no keychain.
func KeychainAvailable(timeout time.Duration) bool {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	_, err := withTimeout(timeout, func() (struct{}, error) { return struct{}{}, probeKeychain() })
	return err == nil
}

// sentinelError carries its own message and matches a sentinel with
// errors.Is, so a message does not repeat the sentinel's text.
type sentinelError struct {
	msg      string
	sentinel error
}

func (e *sentinelError) Error() string { return e.msg }
func (e *sentinelError) Unwrap() error { return e.sentinel }

// errorf formats a message that errors.Is matches against sentinel.
func errorf(sentinel error, format string, args ...any) error {
	return &sentinelError{msg: fmt.Sprintf(format, args...), sentinel: sentinel}
}
