package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/childenv"
	"github.com/The-17/agentsecrets/runner/redact"
	"github.com/The-17/agentsecrets/vault"
)

// Exit codes of env when the command cannot be run, as env(1) and shells
// give them.
const (
	exitCannotExecute = 126
	exitCommandAbsent = 127
)

func init() { register(newEnvCmd) }

type envOptions struct {
	only          []string
	allowOverride []string
	noMask        bool
}

func newEnvCmd(f *Factory) *cobra.Command {
	var o envOptions
	cmd := &cobra.Command{
		Use:   "env [--only K1,K2] [--allow-override K1,K2] [--no-mask] -- COMMAND [ARGS...]",
		Short: "Run a command with the active environment's secrets as environment variables",
		Long: `Run COMMAND with every secret of the active project and environment (or only
those named by --only) as an environment variable named after its key, on top
of the current environment. Values go only into the child's environment:
never into argv, never onto disk.

The command's output and errors pass through the redactor, so a secret it
prints (raw, base64, hex, URL- or JSON-escaped) shows as
[REDACTED_BY_AGENTSECRETS]; --no-mask turns that off. Stdin is the command's.
SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to it. The exit status is the
command's own, 128+N when signal N killed it, 127 when it cannot be found and
126 when it cannot be run.

A key named after a variable that decides what code the command runs
(LD_PRELOAD and every LD_* and DYLD_*, PATH, HOME, IFS, ENV, BASH_ENV, PS4,
PROMPT_COMMAND, NODE_OPTIONS, PYTHONSTARTUP, PYTHONPATH, PERL5OPT, RUBYOPT,
JAVA_TOOL_OPTIONS, EDITOR, PAGER, GIT_SSH_COMMAND, GIT_CONFIG_*, NPM_CONFIG_*, and the
like) would let whoever set it run code in the command: env refuses to run
it, naming the keys, unless --allow-override names each of them. Those
allowed are named in a warning on stderr.`,
		Example: `  agentsecrets env -- npm run dev
  agentsecrets env --only STRIPE_KEY,OPENAI_KEY -- python app.py
  agentsecrets env --env production -- ./deploy.sh
  agentsecrets env --allow-override NODE_OPTIONS -- node app.js`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return newError(ExitUsage, "agentsecrets env -- COMMAND [ARGS...]", "env needs a command to run")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if c.Flags().Changed("only") && len(o.only) == 0 { // --only "" would inject everything
				return usageError(c.CommandPath(), "--only is empty; name the keys (--only K1,K2) or leave it out to inject every key")
			}
			return f.runEnv(o, args)
		},
	}
	// Flags after the command belong to the command.
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringSliceVar(&o.only, "only", nil, "inject only these keys (comma-separated)")
	cmd.Flags().StringSliceVar(&o.allowOverride, "allow-override", nil, "inject these keys even though they replace a variable that decides what code the command runs (PATH, LD_PRELOAD, NODE_OPTIONS, ...)")
	cmd.Flags().BoolVar(&o.noMask, "no-mask", false, "do not redact the command's output (a secret it prints is shown)")
	return cmd
}

func (f *Factory) runEnv(o envOptions, argv []string) error {
	path, err := childenv.LookPath(argv[0])
	if err != nil {
		return lookPathError(argv[0], err)
	}
	s, ctx, err := f.storeAndContext()
	if err != nil {
		return err
	}
	names, err := f.envKeys(s, ctx, o.only)
	if err != nil {
		return err
	}
	if err := f.checkOverrides(names, o.allowOverride); err != nil {
		return err
	}
	vars, values, err := readVars(s, ctx, names)
	if err != nil {
		return err
	}
	if len(o.only) == 0 {
		vars, values, names = f.skipUnsettable(vars, values)
	}
	if len(names) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "agentsecrets: warning: no secrets in %s (%s); running %s without any\n", ctx.Project, ctx.Environment, argv[0])
	}
	env := childEnviron(os.Environ())
	if _, err := childenv.Environ(env, vars); err != nil { // before the audit row says ok
		return newError(ExitUsage, "a value with a NUL byte cannot be an environment variable; leave the key out of --only", "%s", strings.TrimPrefix(err.Error(), "childenv: "))
	}
	if err := f.auditEnv(ctx, names, argv[0]); err != nil {
		return err
	}
	defer f.CloseAudit()
	c := childenv.Command{Path: path, Args: argv, Env: env, Secrets: vars,
		Stdin: f.IO.In, Stdout: f.IO.Out, Stderr: f.IO.ErrOut}
	if childenv.TerminalForeground() { // not IsStdinTTY: stdin may be a terminal that delivers no signal here
		c.Signals, c.Absorbed = childenv.TerminalSignals()
	}
	if o.noMask {
		fmt.Fprintln(f.IO.ErrOut, "agentsecrets: warning: --no-mask: the command's output is not redacted; a secret it prints is shown as is")
	} else {
		c.Mask = redact.NewSet(values...)
	}
	res, err := childenv.Run(c)
	if errors.Is(err, childenv.ErrNotExecutable) || errors.Is(err, childenv.ErrCommandNotFound) {
		return commandError(argv[0], err)
	}
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return &Error{Code: res.ExitCode, Err: &silentError{code: res.ExitCode}}
	}
	return nil
}

// childEnviron is the environment the command inherits: this process's,
// without the vault passphrase, which would open every secret of the vault
// to a command given only some (--only) or none of them.
func childEnviron(environ []string) []string {
	return slices.DeleteFunc(slices.Clone(environ), func(kv string) bool {
		return strings.HasPrefix(kv, "AGENTSECRETS_PASSPHRASE=")
	})
}

// skipUnsettable drops, with a warning, the secrets no environment can
// hold (a NUL byte in the value), so one such value does not stop every
// other from being injected.
func (f *Factory) skipUnsettable(vars []childenv.Var, values [][]byte) ([]childenv.Var, [][]byte, []string) {
	var keptVars []childenv.Var
	var keptValues [][]byte
	var names []string
	for i, v := range vars {
		if _, err := childenv.Environ(nil, vars[i:i+1]); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "agentsecrets: warning: %s is not injected: its value holds a NUL byte, which no environment variable can\n", v.Name)
			continue
		}
		keptVars, keptValues, names = append(keptVars, v), append(keptValues, values[i]), append(names, v.Name)
	}
	return keptVars, keptValues, names
}

const commandHint = "check the command name and $PATH; usage: agentsecrets env -- COMMAND [ARGS...]"

// commandError explains a command that was found but cannot be run; the
// file is there, and is named.
func commandError(name string, err error) error {
	code := exitCommandAbsent
	if errors.Is(err, childenv.ErrNotExecutable) {
		code = exitCannotExecute
	}
	msg := strings.TrimPrefix(err.Error(), "childenv: ")
	return &Error{Code: code, Err: err, Msg: msg, Hint: commandHint}
}

// lookPathError explains a command LookPath refused. One that is not on
// disk, or that cannot be looked at, is not named, only its length: a
// value may be typed where the command goes.
func lookPathError(name string, err error) error {
	slash := strings.Contains(name, "/")
	var onDisk bool // found in $PATH, or a path that is there
	if slash {
		_, serr := os.Stat(name)
		onDisk = serr == nil
	} else {
		onDisk = !errors.Is(err, childenv.ErrCommandNotFound)
	}
	if name == "" || onDisk {
		return commandError(name, err)
	}
	switch {
	case errors.Is(err, childenv.ErrNotExecutable):
		return &Error{Code: exitCannotExecute, Err: err, Msg: "command not executable " + vault.Characters(name) + ": permission denied", Hint: commandHint}
	case slash:
		return &Error{Code: exitCommandAbsent, Err: err, Msg: "command not found " + vault.Characters(name) + ": no such file", Hint: commandHint}
	}
	return &Error{Code: exitCommandAbsent, Err: err, Msg: "command not found " + vault.Characters(name) + ": not in $PATH", Hint: commandHint}
}

// envKeys returns the keys to inject: all of the environment's, or those of
// only, each of which must be set.
func (f *Factory) envKeys(s *vault.Store, ctx vault.Context, only []string) ([]string, error) {
	names, err := s.Names(ctx)
	if err != nil {
		return nil, err
	}
	if len(only) == 0 {
		return names, nil
	}
	var picked []string
	for _, k := range only {
		k = strings.TrimSpace(k)
		if err := vault.ValidateKeyName(k); err != nil {
			return nil, err
		}
		if !slices.Contains(names, k) {
			return nil, newError(ExitNotFound, "agentsecrets secrets list shows the keys set here; the user can set it with: agentsecrets secrets set "+k,
				"secret %q not found in project %q (%s)", k, ctx.Project, ctx.Environment)
		}
		if !slices.Contains(picked, k) {
			picked = append(picked, k)
		}
	}
	return picked, nil
}

// readVars reads the values of names, in one batch.
func readVars(s *vault.Store, ctx vault.Context, names []string) ([]childenv.Var, [][]byte, error) {
	secrets, err := s.GetMany(ctx, names)
	if err != nil {
		return nil, nil, err
	}
	vars := make([]childenv.Var, 0, len(names))
	values := make([][]byte, 0, len(names))
	for i, k := range names {
		vars = append(vars, childenv.Var{Name: k, Value: secrets[i].Bytes()})
		values = append(values, secrets[i].Bytes())
	}
	return vars, values, nil
}

// auditEnv records the injection before the command starts; without an
// audit log nothing runs.
func (f *Factory) auditEnv(ctx vault.Context, names []string, command string) error {
	sink, err := f.Audit()
	if err == nil {
		err = sink.Record(context.Background(), audit.Event{Source: audit.SourceEnv, Agent: f.declaredAgent(),
			Workspace: ctx.Workspace, Project: ctx.Project, Environment: ctx.Environment, Keys: names,
			Decision: audit.DecisionOK, Reason: "run " + filepath.Base(command)})
	}
	if err != nil {
		return &Error{Code: ExitError, Err: err, Msg: "cannot record the injection in the audit log: " + err.Error(),
			Hint: "check that the agentsecrets home is writable (the audit log is audit.db there)"}
	}
	return nil
}
