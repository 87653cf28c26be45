package mcpserver

import (
	"context"
	"time"
)

// Backend answers the tools. Implementations must be safe for concurrent
// use: a client may have several tool calls in flight.
type Backend interface {
	APICall(ctx context.Context, in APICallInput) (APICallOutput, error)
	ListSecrets(ctx context.Context) (ListSecretsOutput, error)
	Status(ctx context.Context) (StatusOutput, error)
	ListEnvironments(ctx context.Context) (ListEnvironmentsOutput, error)
	CheckSecret(ctx context.Context, in CheckSecretInput) (CheckSecretOutput, error)
	AuditLogs(ctx context.Context, in AuditLogsInput) (AuditLogsOutput, error)
}

// APICallInput is the argument of api_call: the same injections as the
// call command's flags, by key name only.
type APICallInput struct {
	URL       string            `json:"url" jsonschema:"target URL (https://host/path?query); its host must be on the workspace allowlist"`
	Method    string            `json:"method,omitempty" jsonschema:"HTTP method (default GET)"`
	Bearer    []string          `json:"bearer,omitempty" jsonschema:"key names sent as Authorization: Bearer <value>, e.g. [\"STRIPE_KEY\"]"`
	Basic     []string          `json:"basic,omitempty" jsonschema:"key names holding user:password, sent as Basic auth"`
	Header    []string          `json:"header,omitempty" jsonschema:"entries Name=KEY send the value of KEY in header Name, e.g. [\"X-Api-Key=SENDGRID_KEY\"]"`
	Query     []string          `json:"query,omitempty" jsonschema:"entries param=KEY send the value of KEY as query parameter param, e.g. [\"key=GOOGLE_MAPS_KEY\"]"`
	BodyField []string          `json:"body_field,omitempty" jsonschema:"entries path=KEY set JSON body field path (dots for nesting) to the value of KEY"`
	FormField []string          `json:"form_field,omitempty" jsonschema:"entries field=KEY set form field to the value of KEY"`
	Headers   map[string]string `json:"headers,omitempty" jsonschema:"plain, non-secret headers, e.g. {\"Content-Type\": \"application/json\"}"`
	Body      string            `json:"body,omitempty" jsonschema:"request body text (JSON is sent as application/json unless headers say otherwise); never a secret value"`
	Policy    []string          `json:"policy,omitempty" jsonschema:"custom policies by name (built-in or registered with agentsecrets policy add; no file paths), run after the injections"`
	Params    map[string]string `json:"params,omitempty" jsonschema:"parameters for the custom policies, e.g. {\"key\": \"WEBHOOK_SECRET\"}"`
	Timeout   float64           `json:"timeout,omitempty" jsonschema:"give up after this many seconds, 0 to 600 (default 30)"`
}

// APICallOutput is the upstream's answer, already scrubbed of every secret.
type APICallOutput struct {
	Status  int               `json:"status" jsonschema:"HTTP status code of the upstream"`
	Headers map[string]string `json:"headers" jsonschema:"response headers, redacted"`
	// Body is the JSON value of a JSON body, else the body as a string.
	Body       any  `json:"body" jsonschema:"response body, redacted: the JSON value itself, or a string when the body is not JSON"`
	Redactions int  `json:"redactions" jsonschema:"how many secret echoes were replaced with [REDACTED_BY_AGENTSECRETS]"`
	Truncated  bool `json:"truncated,omitempty" jsonschema:"the body was longer than the server passes on and was cut"`
}

// SecretCoverage is one key and where it is set; never its value.
type SecretCoverage struct {
	Name         string          `json:"name"`
	Environments map[string]bool `json:"environments" jsonschema:"development, staging, production: whether the key is set there"`
	Missing      []string        `json:"missing,omitempty" jsonschema:"environments where the key is not set"`
}

// ListSecretsOutput is the answer of list_secrets.
type ListSecretsOutput struct {
	Workspace   string           `json:"workspace"`
	Project     string           `json:"project"`
	Environment string           `json:"environment" jsonschema:"the active environment"`
	Secrets     []SecretCoverage `json:"secrets"`
}

// StatusOutput is the answer of status.
type StatusOutput struct {
	State       string     `json:"state" jsonschema:"OK, NOT_INITIALIZED or PROJECT_NOT_FOUND"`
	Workspace   string     `json:"workspace"`
	Project     string     `json:"project,omitempty"`
	Environment string     `json:"environment"`
	Backend     string     `json:"backend" jsonschema:"where values are kept: keychain or file"`
	StorageMode int        `json:"storage_mode" jsonschema:"1: vault only; 2: also a plaintext .env"`
	ProjectFile string     `json:"project_file,omitempty"`
	Home        string     `json:"home"`
	LastSync    *time.Time `json:"last_sync,omitempty"`
	Agent       string     `json:"agent" jsonschema:"the identity this server records in the audit log"`
	Hint        string     `json:"hint,omitempty" jsonschema:"what the human should run when the state is not OK"`
}

// EnvironmentInfo is one environment of the project.
type EnvironmentInfo struct {
	Name    string `json:"name"`
	Secrets int    `json:"secrets" jsonschema:"number of keys set there"`
	Active  bool   `json:"active"`
}

// ListEnvironmentsOutput is the answer of list_environments.
type ListEnvironmentsOutput struct {
	Project      string            `json:"project"`
	Environments []EnvironmentInfo `json:"environments"`
}

// CheckSecretInput is the argument of check_secret.
type CheckSecretInput struct {
	Key string `json:"key" jsonschema:"the key name, e.g. STRIPE_KEY (a name, never a value)"`
}

// CheckSecretOutput says what is known of one key; never its value.
type CheckSecretOutput struct {
	Key          string              `json:"key"`
	Exists       bool                `json:"exists" jsonschema:"set in the active environment"`
	Environment  string              `json:"environment" jsonschema:"the active environment"`
	Environments map[string]bool     `json:"environments" jsonschema:"whether the key is set in each environment"`
	Domains      map[string][]string `json:"domains,omitempty" jsonschema:"per environment, the only hosts the key may be sent to (none: any allowlisted host)"`
	Expires      map[string]string   `json:"expires,omitempty" jsonschema:"per environment, when the value expires (RFC 3339)"`
	Expired      []string            `json:"expired,omitempty" jsonschema:"environments where the value has expired"`
	Hint         string              `json:"hint,omitempty" jsonschema:"what the human should run when the key is missing or expired"`
}

// AuditLogsInput filters audit_logs.
type AuditLogsInput struct {
	Last   int    `json:"last,omitempty" jsonschema:"the N most recent matching entries (default 20, at most 500)"`
	Secret string `json:"secret,omitempty" jsonschema:"only entries that used this key name"`
	Env    string `json:"env,omitempty" jsonschema:"only entries of this environment"`
	Agent  string `json:"agent,omitempty" jsonschema:"only entries of this agent identity"`
}

// AuditEntry is one audited action: key names, never values.
type AuditEntry struct {
	ID          int64     `json:"id"`
	Time        time.Time `json:"time"`
	Source      string    `json:"source" jsonschema:"call, proxy, exec, env or mcp; allowlist for a change of the domain allowlist"`
	Agent       string    `json:"agent"`
	Environment string    `json:"environment"`
	Method      string    `json:"method,omitempty" jsonschema:"the HTTP method; ADD or REMOVE for an allowlist change"`
	URL         string    `json:"url,omitempty" jsonschema:"target URL; credential query parameters show the key name"`
	Keys        []string  `json:"keys,omitempty"`
	AuthStyles  []string  `json:"auth_styles,omitempty"`
	Status      int       `json:"status,omitempty"`
	DurationMS  float64   `json:"duration_ms"`
	Decision    string    `json:"decision" jsonschema:"ok, blocked_allowlist, denied_binding, policy_denied or error"`
	Reason      string    `json:"reason,omitempty"`
	Redactions  int       `json:"redactions"`
	// The allowlist a call was decided by.
	AllowlistEntry  string `json:"allowlist_entry,omitempty" jsonschema:"the allowlist entry that admitted the host (api.stripe.com, *.stripe.com); absent when the host was refused"`
	AllowlistDigest string `json:"allowlist_digest,omitempty" jsonschema:"sha256: and the SHA-256 of the whole allowlist in force, its domains sorted one a line (after the change, for an allowlist change)"`
	// What an allowlist change changed.
	AllowlistChange  []string `json:"allowlist_change,omitempty" jsonschema:"for an allowlist change: the domains added or removed"`
	AllowlistBefore  string   `json:"allowlist_before,omitempty" jsonschema:"for an allowlist change: the digest of the list before it"`
	AllowlistDomains []string `json:"allowlist_domains,omitempty" jsonschema:"for an allowlist change: the whole list after it (absent when it left the list empty)"`
}

// AuditLogsOutput is the answer of audit_logs, oldest first.
type AuditLogsOutput struct {
	Entries []AuditEntry `json:"entries"`
}
