package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// Exit codes. Agents branch on these; keep them stable.
const (
	// ExitOK: success.
	ExitOK = 0
	// ExitError: any other failure.
	ExitError = 1
	// ExitUsage: bad flags, arguments or input (key name, environment,
	// domain, project.json).
	ExitUsage = 2
	// ExitHTTP: the remote answered with an error status (call).
	ExitHTTP = 3
	// ExitAuth: a human must act: vault locked or no passphrase, no
	// keychain, a terminal confirmation needed.
	ExitAuth = 4
	// ExitDenied: a domain is not allowlisted or a secret is not bound to it.
	ExitDenied = 5
	// ExitNotFound: missing secret, project, or no project initialized.
	ExitNotFound = 6
)

// Error is an error with the exit code and hint the command line shows.
type Error struct {
	Code int
	Msg  string
	Hint string
	Err  error
}

func (e *Error) Error() string {
	if e.Msg == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// newError builds an *Error; hint may be "".
func newError(code int, hint, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// usageError is a bad-usage error with a hint pointing at the help.
func usageError(cmdPath, format string, args ...any) *Error {
	return newError(ExitUsage, cmdPath+" --help", format, args...)
}

// exitCode maps an error to an exit code.
func exitCode(err error) int {
	var ce *Error
	var silent *silentError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &silent):
		return silent.code
	case errors.As(err, &ce) && ce.Code != 0:
		return ce.Code
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrProjectNotFound), errors.Is(err, vault.ErrNotInitialized):
		return ExitNotFound
	case errors.Is(err, vault.ErrInvalid):
		return ExitUsage
	case errors.Is(err, keychain.ErrNoPassphrase), errors.Is(err, keychain.ErrBadPassphrase), errors.Is(err, keychain.ErrUnavailable):
		return ExitAuth
	case isCobraUsage(err):
		return ExitUsage
	}
	return ExitError
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "bad flag", "required flag"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// hintOf returns the hint an error carries, or a default for known causes.
func hintOf(err error) string {
	var ce *Error
	if errors.As(err, &ce) && ce.Hint != "" {
		return ce.Hint
	}
	var h interface{ Hint() string }
	if errors.As(err, &h) && h.Hint() != "" {
		return h.Hint()
	}
	switch {
	case errors.Is(err, keychain.ErrNoPassphrase):
		return "the user sets AGENTSECRETS_PASSPHRASE, or runs the command in a terminal to type the vault passphrase"
	case errors.Is(err, keychain.ErrBadPassphrase):
		return "check AGENTSECRETS_PASSPHRASE (the passphrase the vault file was created with)"
	case errors.Is(err, keychain.ErrUnavailable):
		return "start the OS keychain (Secret Service), or set AGENTSECRETS_BACKEND=file to use the encrypted file"
	case isCobraUsage(err):
		return "agentsecrets --help"
	}
	return ""
}

// printError writes the error (and its hint) the way every command does.
func printError(w io.Writer, err error, color bool) {
	label := "error:"
	if color {
		label = "\x1b[31merror:\x1b[0m"
	}
	fmt.Fprintf(w, "agentsecrets: %s %s\n", label, err.Error())
	if h := hintOf(err); h != "" {
		fmt.Fprintf(w, "agentsecrets: hint: %s\n", h)
	}
}
