// Package openclaw serves OpenClaw's exec secrets provider protocol,
// version 1: OpenClaw spawns a command, writes one request naming secret ids
// on its standard input and reads one response with their values on its
// standard output.
//
// # Request and response
//
// The request is one JSON object:
//
//	{"protocolVersion":1,"provider":"agentsecrets","ids":["OPENAI_KEY","production/STRIPE_KEY"]}
//
// The response lists every requested id exactly once, under values or under
// errors:
//
//	{"protocolVersion":1,"values":{"OPENAI_KEY":"sk-..."},
//	 "errors":{"production/STRIPE_KEY":{"code":"NOT_FOUND","message":"..."}}}
//
// values is always present (OpenClaw requires it, even empty); errors is left
// out when nothing failed. A value is a string of UTF-8 text that is not
// blank: an empty stored value, one of whitespace only (OpenClaw refuses a
// value JavaScript's trim() empties), or one that is not valid UTF-8 and so
// could not travel as a JSON string unchanged, is an error for its id.
// Values are sent as stored, never trimmed.
//
// A request that cannot be served as a whole (empty input, more than
// MaxRequestBytes, malformed JSON, not an object, a protocolVersion other than
// 1, a missing or malformed ids array, more than MaxIDs ids) is an error from
// ReadRequest or ParseRequest, and the command must then exit non-zero with
// nothing on standard output. OpenClaw fails every reference of the batch on a
// non-zero exit, so anything that concerns a single id is reported under
// errors with exit status 0 instead.
//
// # Ids
//
// OpenClaw accepts exec ids matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,255}$
// (newer releases also refuse "." and ".." segments, which none of the forms
// below can hold).
// Within that, this provider reads three forms:
//
//	KEY                    the key in the active project and environment
//	ENV/KEY                the key in environment ENV of the active project
//	PROJECT/ENV/KEY        the key in environment ENV of project PROJECT
//
// each part checked as the vault checks it (UPPER_SNAKE_CASE key names,
// development, staging or production, valid project names). Anything else is
// an INVALID_ID error for that id. The workspace is always the active one.
//
// # Resolution
//
// Resolver resolves a request through a Vault (a *vault.Store). Ids are
// de-duplicated; the names set in each environment named are read once, so an
// id whose key is not set costs no backend call. Values are then read from the
// backend in one batch when it reads batches (keychain.BatchGetter: the
// Secret Service answers a whole batch in a few D-Bus round trips, the
// encrypted file is read and its key checked once). A batch that fails on one
// of its items (a tampered item of the file) is read again one id at a time,
// so that only that id fails. A backend without batches is read one value at
// a time: the first alone (a locked keychain may prompt, once), the others
// KeychainReaders at a time on the OS keychain, where each read is several
// round trips. A failure of the backend itself (keychain not answering, no or
// wrong passphrase) is given to every id not yet read, without asking the
// backend again, so a locked vault costs one timeout, not one per id. When
// the context is done, the ids not yet read get TIMEOUT, a read or batch still
// running included.
//
// Before a response is returned its outcomes are given to the Auditor: key
// names, project, environment and error code, never a value. If the Auditor
// fails, no value is returned: every resolved id becomes an AUDIT_FAILED
// error.
//
// Messages under errors name ids, keys, projects and environments; they never
// contain a value.
package openclaw
