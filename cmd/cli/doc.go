// Package cli holds the agentsecrets commands (cobra), one file per noun.
//
// # Running
//
// Main runs the process's command line; Run runs one in-process with given
// streams and environment, which is how the testscript scripts drive it.
//
// # Adding a command
//
// A file of this package declares a constructor and registers it:
//
//	func init() { register(newProxyCmd) }
//
//	func newProxyCmd(f *Factory) *cobra.Command { ... }
//
// The Factory gives lazy dependencies: f.Store() opens the vault only for
// commands that need it (--version and --help never touch the keychain),
// f.Context() resolves workspace, project and environment (--project and
// --env apply), f.IO holds the streams.
//
// The vault f.Store() opens records every change of an allowlist in the
// audit log (f.Audit()), under the vault's lock, as made by
// $AGENTSECRETS_AGENT_ID or anonymous: whatever command changes the list,
// the change is in the log, or the command says it is not.
//
// # Streams and prompts
//
// IOStreams knows whether stdin and stdout are terminals and whether colour
// is on (off for NO_COLOR or a non-terminal). Confirmations and hidden
// prompts go to the controlling terminal (/dev/tty), never to stdin, so a
// program driving stdin cannot answer them; AGENTSECRETS_NO_TTY=1 makes the
// terminal unavailable (it can only refuse more).
//
// # Errors and exit codes
//
// Errors print as "agentsecrets: error: ..." followed by
// "agentsecrets: hint: ..." when there is something to type. Exit codes
// are the Exit* constants: 0 ok, 1 error, 2 usage, 3 HTTP error status,
// 4 authentication needed or vault locked, 5 denied, 6 not found.
//
// A usage error never repeats what was typed: a credential pasted as a
// command, a flag or a flag's value would reach stderr, which an agent
// reads. It gives the argument's length ("unknown command (51
// characters)") and names only what the CLI defines: a flag another
// command has, the commands cobra would suggest (argerrors.go). Cobra's
// own messages quote the argument, so command groups and root refuse
// unknown subcommands themselves and commands use noArgs, not
// cobra.NoArgs.
package cli
