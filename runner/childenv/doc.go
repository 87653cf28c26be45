// Package childenv runs a command with secrets in its environment and its
// output passed through the redactor.
//
// # Environment
//
// The child gets the parent's environment plus one variable per secret,
// named after the key; a secret replaces a variable of the same name.
// Values travel only in the environment, never in argv, and nothing is
// written to disk. A value holding a NUL byte cannot be an environment
// variable and is refused before anything starts.
//
// # Streams
//
// Standard input is handed to the child as it is: an *os.File (a terminal,
// a pipe) is inherited directly. With a redaction set, standard output and
// standard error each go through their own streaming redact.Writer, which
// passes every write on as soon as it cannot be the start of a secret, so
// interactive output stays progressive; the held tail is released when the
// child's stream ends. The child then writes to pipes, not to a terminal:
// programs that buffer output when not on a terminal do so. Without a set
// the child inherits the streams unchanged.
//
// # Signals and exit status
//
// SIGINT, SIGTERM, SIGHUP and SIGQUIT received while the child runs are
// forwarded to it. On a terminal the child stays in the foreground process
// group, so Ctrl-C and Ctrl-\ reach it directly: when TerminalForeground
// says so, TerminalSignals lets a caller absorb those two instead of
// delivering them twice. Run returns the child's
// exit code, or 128+N when signal N killed it, as a shell reports it.
package childenv
