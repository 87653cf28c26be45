// Package install adds the agentsecrets MCP server to the configuration
// files of desktop MCP clients (Claude Desktop, Cursor) without disturbing
// anything else in them.
//
// # Paths
//
// [ConfigPath] resolves each client's file from an [Env] (the OS, HOME,
// APPDATA, XDG_CONFIG_HOME), so tests and unusual setups can point it
// anywhere:
//
//	claude  macOS    ~/Library/Application Support/Claude/claude_desktop_config.json
//	        Windows  %APPDATA%\Claude\claude_desktop_config.json
//	        Linux    $XDG_CONFIG_HOME/Claude/claude_desktop_config.json (~/.config)
//	cursor  all      ~/.cursor/mcp.json
//
// # Merging
//
// [Merge] sets mcpServers.<name>.command and .args and keeps every other
// server, every other field of the entry (an "env" the user added, say),
// the arguments the user added after "mcp serve" (such as "--agent",
// "claude-desktop"; those install sets itself are replaced) and every
// other top-level key, in their order. A file that already holds the
// same command and args is reported unchanged, so a second run writes
// nothing. Malformed JSON, a top level that is not an object or an
// mcpServers that is not an object is an error and nothing is written.
//
// # Writing
//
// [Prepare] reads and merges without touching the disk; [Plan.Apply] then
// copies an existing file to a timestamped backup next to it, and replaces
// the file atomically (a temporary file renamed over it), keeping its
// owner's permissions but none for group or others (an entry's env may hold
// a passphrase); backups are 0600. A missing file is created 0600 in a
// directory created 0700. A symbolic link is followed, so the file it points
// to is the one updated; a link to a missing file is refused. Run as root,
// a file of another user (or, for a new file, the folder above it) is
// refused: the file written would be root's, and the user's client could
// not read it.
package install
