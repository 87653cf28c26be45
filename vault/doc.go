// Package vault is the local secrets store: the context a command runs in
// (workspace, project, environment), the values kept in a keychain backend,
// and an index of names that never holds a value.
//
// # Layout on disk
//
// The home directory is $AGENTSECRETS_HOME, or ~/.agentsecrets (the home
// directory comes from $HOME, or from the user database when $HOME is unset,
// as it is for processes spawned with an empty environment). It holds:
//
//	config.json  active workspace, backend kind, active project and
//	             environment (used where no project.json is found), last sync
//	index.json   workspaces -> allowlist; projects -> environments -> keys ->
//	             version, updated time, fingerprint, expiry, domain bindings
//	agents.json  workspaces -> agent identities -> their tokens' ids, times
//	             and SHA-256 hashes (the raw tokens are shown once, at issue,
//	             and kept nowhere)
//	.lock        the cross-process lock every read-modify-write takes
//
// A project directory holds .agentsecrets/project.json (project, workspace,
// environment, storage mode, last pull and push). It is found in the working
// directory or its parents, as git finds .git. A project's .agentsecrets
// that is a symbolic link (a cloned repository can hold one pointing
// anywhere) is never followed: init and every command reading project.json
// fail with ErrInvalid naming it.
//
// # Values
//
// Values live in a keychain.Backend, one item per (workspace, project,
// environment, key). The index records a fingerprint of each value: an
// HMAC-SHA256 under a random per-workspace key that is itself kept in the
// backend, so drift between environments is detected without storing or
// comparing values. A value read from the store is a Secret, which prints as
// "[secret]" through fmt, encoding/json and log/slog; only Secret.Bytes gives
// the value, for the code that splices it.
//
// # Context resolution
//
// A project.json beats the global config; Options.Project and
// Options.Environment (the --project and --env flags) beat both.
//
// The global config holds the context of runs outside a project directory
// (exec, mcp) as one (workspace, project, environment): UseProject and
// ActivateEnvironment write it whole, never one project paired with the
// environment chosen for another. ActivateEnvironment applies to the project
// --project names; a project.json naming another project is left alone.
//
// # Durability
//
// Every change takes the lock, re-reads the files inside it (project.json
// too: project use, environment switch, rename and init read it there, so
// concurrent changes never undo each other), writes the backend first and
// the index second, each file replaced atomically. A key about to get
// another value first loses its fingerprint in the index, so that a
// process killed between the two writes never leaves a value under the
// fingerprint of another (drift would report them the same). The
// tool's own files are 0600 and its own directories (the home, a project's
// .agentsecrets) 0700. The project directory is the user's: its mode is
// never changed, .env.example (key names, meant to be committed) is 0644 and
// .env (mode 2, values) 0600. Input is validated before anything is
// touched, so a rejected command changes nothing on disk. Every removal
// (delete, clean, project delete) first asks the backend whether it would
// refuse it (keychain.Check: a wrong or missing passphrase for the
// encrypted file, an OS keychain locked or not answering), so that it
// never drops keys from the index whose values it then cannot remove. A
// value that still fails to go (or a process killed once the index is
// written) is left unlisted: the error names every such key, and Delete
// of that key again (RemoveLeftover) removes it.
//
// # Allowlist changes
//
// AllowlistAdd and AllowlistRemove are the only ways the index's allowlists
// change. A Store opened with Options.AllowlistChanged hands every change
// (the workspace, the domains added or removed, the list before and after)
// to that recorder under the lock, once the index holds it, so a recorder
// sees the changes of every Store and process in the order they were made;
// the command line records them in the audit log. A recorder's failure is
// an ErrNotRecorded error, and the change stays. A Store opened without one
// (tests, tools built on the package) changes the list unrecorded; the
// next recorded change names the list it started from, which shows the gap.
//
// # Agent identities
//
// An agent is a name in a workspace holding tokens ("ast_" and 32 random
// bytes in base64url) that front ends such as the proxy verify. IssueToken
// returns a token once; VerifyToken and AgentTokens compare the SHA-256 of
// what a caller presents with every stored hash in constant time. Revoking
// a token or deleting its agent stops it verifying.
//
// # Storage modes
//
// Mode 1 (the default) keeps values in the backend only and writes a
// .env.example of key names next to .agentsecrets. Mode 2 also writes a
// plaintext .env with the active environment's values on every change, and
// says so loudly on the warning writer each time. The store replaces only
// a .env.example (and, in mode 2, a .env) it wrote, or an empty one, told
// by its first line: one of the user's own (a .env.example kept in the
// repository by hand) is an ErrExists error naming it, and is kept; an
// init refused for it changes nothing. A mode 2 write killed before its
// rename leaves a temporary ..env.tmp-<digits> holding values: the next
// write of these files, in either mode, removes every such file first.
package vault
