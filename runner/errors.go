package runner

import (
	"errors"
	"fmt"
)

// The errors a call fails with, for front ends to branch on (exit codes in
// the CLI, statuses and codes in the proxy). Each is wrapped with a message
// that names what was refused, never a value.
var (
	// ErrNotAllowed: the target host is not on the workspace allowlist.
	ErrNotAllowed = errors.New("domain not allowed")
	// ErrNotBound: a secret is bound to other domains than the target's.
	ErrNotBound = errors.New("secret not bound to this domain")
	// ErrSecretMissing: a secret named by the call does not exist.
	ErrSecretMissing = errors.New("secret not found")
	// ErrPolicyDenied: a policy refused the call.
	ErrPolicyDenied = errors.New("denied by policy")
	// ErrSSRF: the target is a metadata, link-local or unallowed private address.
	ErrSSRF = errors.New("target address refused")
	// ErrBadRequest: the call itself is malformed (URL, method, body).
	ErrBadRequest = errors.New("bad request")
	// ErrUpstream: the upstream could not be reached or broke the exchange.
	ErrUpstream = errors.New("upstream unreachable")
	// ErrTimeout: the call's deadline passed.
	ErrTimeout = errors.New("upstream timeout")
	// ErrUnsafeResponse: the response uses an encoding the redactor cannot
	// read, so it is refused rather than passed through unscrubbed.
	ErrUnsafeResponse = errors.New("response refused")
)

// MissingError names the secret a call found missing; it wraps
// ErrSecretMissing.
type MissingError struct{ Key string }

func (e *MissingError) Error() string { return fmt.Sprintf("%v: %q", ErrSecretMissing, e.Key) }

func (e *MissingError) Unwrap() error { return ErrSecretMissing }

// MissingKey is the name of the secret err found missing, or "KEY" when it
// names none: for hints that tell a human what to set.
func MissingKey(err error) string {
	var me *MissingError
	if errors.As(err, &me) && me.Key != "" {
		return me.Key
	}
	return "KEY"
}

// PlainHost reports whether host holds only letters, digits, '.', '-', '_'
// and ':' (IPv6), and does not start with '-' (an option): whether it may
// go into a command a human is asked to paste. The host of a refused call
// is the caller's text, and a URL's host may hold ; & $ ( ) < > ' * and
// other characters a shell acts on.
func PlainHost(host string) bool {
	if host == "" || host[0] == '-' {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':') {
			return false
		}
	}
	return true
}

// NotPlainHostHint is the hint for a refused host that is not PlainHost.
const NotPlainHostHint = "the host is not a plain DNS name or IP address; ask the human whether it should be reached at all"
