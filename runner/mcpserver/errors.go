package mcpserver

import "strings"

// Error codes a Backend reports, stable for the model to branch on.
const (
	CodeNotAllowed     = "DOMAIN_NOT_ALLOWED" // host not on the workspace allowlist
	CodeNotBound       = "SECRET_NOT_BOUND"   // a key is bound to other domains
	CodeSecretMissing  = "SECRET_NOT_FOUND"   // a named key is not set
	CodePolicyDenied   = "POLICY_DENIED"      // a policy refused the call
	CodeAddressRefused = "ADDRESS_REFUSED"    // metadata, link-local or private address
	CodeBadRequest     = "BAD_REQUEST"        // malformed arguments
	CodeUpstream       = "UPSTREAM_ERROR"     // the upstream could not be reached
	CodeTimeout        = "UPSTREAM_TIMEOUT"   // the call's deadline passed
	CodeNotInitialized = "NOT_INITIALIZED"    // no project in this context
	CodeVaultLocked    = "VAULT_LOCKED"       // the vault needs the human (passphrase, keychain)
	CodeError          = "ERROR"              // anything else
)

// Error is a tool failure the model can act on: a stable code, a message
// naming what was refused and a hint saying what the human should type.
// None of them ever holds a secret value.
type Error struct {
	Code    string
	Message string
	Hint    string
}

// Error renders the text the model reads: "CODE: message" then the hint.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Code != "" {
		b.WriteString(e.Code)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Hint != "" {
		b.WriteString("\nhint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}
