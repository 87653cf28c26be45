// Package mcpserver is the Model Context Protocol front end: an MCP server,
// built on the official Go SDK, that lets an AI agent make authenticated
// calls and inspect the vault by key name without ever seeing a value.
//
// # Tools
//
//   - api_call: one HTTP request with secrets injected by name (bearer,
//     basic, header, query, body_field, form_field, custom policies),
//     answered with the status, headers and redacted body;
//   - list_secrets: key names and their coverage across environments;
//   - status: the active workspace, project, environment and backend;
//   - list_environments: the environments of the project and their counts;
//   - check_secret: whether a key exists, where, its bound domains and expiry;
//   - audit_logs: recent audit entries, filtered by key, environment, agent:
//     each call with the allowlist it was decided by (allowlist_entry,
//     allowlist_digest), and the changes of the allowlist (source
//     allowlist, with the domains changed and the list before and after).
//
// Every tool description carries the same rules for the model: values are
// never shown nor asked for, a missing key or a blocked domain is fixed by
// the human in their own terminal, and no value ever goes in an argument.
//
// # Backend
//
// The server holds no vault logic. A [Backend] answers each tool; the
// command line implements it on top of the call runner, the vault and the
// audit store, and tests use a fake one for the protocol shape.
//
// # Errors
//
// A Backend error becomes a tool error (isError set), whose text is the
// message and, for an [*Error], its code and the hint naming what the human
// should type. Arguments that do not fit a tool's input schema are a
// BAD_REQUEST tool error that names the argument and never quotes it (it may
// be a value given to the model by mistake). Protocol errors are kept for
// malformed requests.
package mcpserver
