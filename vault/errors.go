package vault

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrNotFound: the secret does not exist in the given environment.
	ErrNotFound = errors.New("vault: secret not found")
	// ErrProjectNotFound: the named project does not exist in the workspace.
	ErrProjectNotFound = errors.New("vault: project not found")
	// ErrNotInitialized: no project.json was found and no project is active.
	ErrNotInitialized = errors.New("vault: not initialized")
	// ErrInvalid: bad input (key name, environment, domain, project name,
	// project.json content).
	ErrInvalid = errors.New("vault: invalid input")
	// ErrExists: the thing to create already exists.
	ErrExists = errors.New("vault: already exists")
	// ErrNotRecorded: an allowlist change was made and saved, but
	// Options.AllowlistChanged failed to record it; the change stays.
	ErrNotRecorded = errors.New("vault: the allowlist was changed but the change was not recorded")
)

// Error is the error type of this package: a message, the sentinel it
// matches and a hint telling the user what to type next.
type Error struct {
	kind error
	msg  string
	hint string
}

// Error returns the message, prefixed "vault: ".
func (e *Error) Error() string { return e.msg }

// Unwrap returns the sentinel (ErrNotFound, ErrInvalid, ...).
func (e *Error) Unwrap() error { return e.kind }

// Hint returns what the user can do about it, or "".
func (e *Error) Hint() string { return e.hint }

func newError(kind error, hint, format string, args ...any) *Error {
	return &Error{kind: kind, msg: "vault: " + fmt.Sprintf(format, args...), hint: hint}
}
