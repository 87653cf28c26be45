package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// Version is set at build time with
// -ldflags "-X github.com/The-17/agentsecrets/cmd/cli.Version=v1.2.3".
var Version = ""

// registry holds the constructors of the top-level commands; each command
// file adds its own in an init function.
var registry []func(*Factory) *cobra.Command

// register adds a top-level command constructor.
func register(newCmd func(*Factory) *cobra.Command) { registry = append(registry, newCmd) }

// Factory gives commands their dependencies, created on first use.
type Factory struct {
	IO     *IOStreams
	Getenv func(string) string
	// Project and Environment are the --project and --env flags.
	Project, Environment string

	store      *vault.Store
	auditStore *audit.Store
	auditErr   error
	engine     *policies.Engine
}

// Store opens the vault (once). It touches no file and no keychain by
// itself; the backend is opened by the operations that read or write values.
// Every allowlist change made through it is recorded in the audit log
// (recordAllowlistChange).
func (f *Factory) Store() (*vault.Store, error) {
	if f.store != nil {
		return f.store, nil
	}
	s, err := vault.Open(vault.Options{Getenv: f.Getenv, Project: f.Project, Environment: f.Environment,
		Passphrase: f.passphrase, Warn: f.IO.ErrOut, AllowlistChanged: f.recordAllowlistChange})
	if err != nil {
		return nil, err
	}
	f.store = s
	return s, nil
}

// Context resolves the active workspace, project and environment.
func (f *Factory) Context() (vault.Context, error) {
	s, err := f.Store()
	if err != nil {
		return vault.Context{}, err
	}
	return s.Context()
}

// storeAndContext opens the vault and resolves the active workspace,
// project and environment.
func (f *Factory) storeAndContext() (*vault.Store, vault.Context, error) {
	s, err := f.Store()
	if err != nil {
		return nil, vault.Context{}, err
	}
	ctx, err := s.Context()
	if err != nil {
		return nil, vault.Context{}, err
	}
	return s, ctx, nil
}

// passphrase is $AGENTSECRETS_PASSPHRASE, else asked on the terminal.
func (f *Factory) passphrase() ([]byte, error) {
	if p := f.Getenv("AGENTSECRETS_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	tty, err := f.IO.TTY()
	if err != nil {
		return nil, keychain.ErrNoPassphrase
	}
	defer tty.Close()
	p, err := tty.PromptHidden("agentsecrets vault passphrase: ")
	if err != nil || len(p) == 0 {
		return nil, keychain.ErrNoPassphrase
	}
	return p, nil
}

// Main runs the command line of the process and returns the exit code.
func Main() int {
	return Run(os.Args[1:], NewIOStreams(os.Stdin, os.Stdout, os.Stderr, os.Getenv), os.Getenv)
}

// Run runs one command line with the given streams and environment and
// returns the exit code.
func Run(args []string, streams *IOStreams, getenv func(string) string) int {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	f := &Factory{IO: streams, Getenv: getenv}
	root := newRootCmd(f)
	root.SetArgs(args)
	defer f.CloseAudit()
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	var ce *Error
	if isCobraUsage(err) && cmd != nil && !errors.As(err, &ce) { // e.g. a required flag missing
		err = usageError(cmd.CommandPath(), "%v", err)
	}
	var silent *silentError
	if !errors.As(err, &silent) {
		printError(streams.ErrOut, err, streams.ErrColorEnabled())
	}
	return exitCode(err)
}

// silentError carries an exit code for a command that has already said
// everything it has to say.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "agentsecrets",
		Short: "Secrets an AI agent operates without ever seeing a value",
		Long: `agentsecrets keeps credentials in the OS keychain (or an encrypted file) and
lets an AI agent manage them by name: projects, environments, drift, domain
allowlists. Values are typed by a human and never printed to an agent.`,
		Example: `  agentsecrets init --storage-mode 1
  agentsecrets secrets set STRIPE_KEY        # the user types the value
  agentsecrets secrets list
  agentsecrets status --json`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetVersionTemplate("agentsecrets {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(c.CommandPath(), "%s", flagErrorText(c, err))
	})
	root.SetHelpCommand(newHelpCmd())
	root.PersistentFlags().StringVar(&f.Project, "project", "", "use this project instead of the active one")
	root.PersistentFlags().StringVar(&f.Environment, "env", "", "use this environment (development, staging, production) instead of the active one")
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error { return emptyContextFlag(c) }
	for _, newCmd := range registry {
		root.AddCommand(newCmd(f))
	}
	// Added here rather than at Execute so that "completion nosuch" is
	// refused like any other group's unknown subcommand.
	root.InitDefaultCompletionCmd()
	completionExamples(root)
	refuseUnknownSubcommands(root)
	return root
}

// completionExamples gives cobra's completion commands examples, as every
// other help page has, and noArgs for cobra.NoArgs (which quotes the
// argument).
func completionExamples(root *cobra.Command) {
	examples := map[string]string{
		"bash":       "  source <(agentsecrets completion bash)",
		"zsh":        "  agentsecrets completion zsh > \"${fpath[1]}/_agentsecrets\"",
		"fish":       "  agentsecrets completion fish | source",
		"powershell": "  agentsecrets completion powershell | Out-String | Invoke-Expression",
	}
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Example = examples["bash"] + "\n" + examples["fish"]
		for _, sc := range c.Commands() {
			sc.Example = examples[sc.Name()]
			sc.Args = noArgs
		}
	}
}

// newHelpCmd is cobra's help command, except that an unknown topic is a
// usage error (exit 2) rather than the root's usage and exit 0.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help shows the help of any command: agentsecrets help [path to command].",
		Example: `  agentsecrets help secrets set
  agentsecrets help proxy logs`,
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if cmd == nil || err != nil || len(rest) > 0 {
				return usageError("agentsecrets", "unknown help topic %s", vault.Characters(strings.Join(args, " ")))
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	}
}

// emptyContextFlag refuses an empty --project or --env: a script's unset
// variable would quietly mean the active one.
func emptyContextFlag(c *cobra.Command) error {
	for _, name := range []string{"project", "env"} {
		if fl := c.Flags().Lookup(name); fl != nil && fl.Changed && fl.Value.String() == "" {
			return usageError(c.CommandPath(), "--%s is empty; leave it out to use the active one", name)
		}
	}
	return nil
}

// refuseUnknownSubcommands makes root and every command group below it
// (secrets, proxy, agent token, …) fail with a usage error on a
// subcommand it does not have, without repeating it (unknownCommand).
// Cobra's own check covers the root only, quotes the argument, and a group
// without a Run of its own would print its help and exit 0: a script or
// an agent would take "agentsecrets secrets rm KEY" for done. A group
// given no argument still prints its help.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		return unknownCommand(c, args[0])
	}
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// exactArgs is cobra.ExactArgs with a usage error naming the arguments.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError(c.CommandPath(), "%s takes %s (got %d argument(s))", c.CommandPath(), names, len(args))
		}
		return nil
	}
}

// minArgs requires at least n arguments.
func minArgs(n int, names string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError(c.CommandPath(), "%s takes %s", c.CommandPath(), names)
		}
		return nil
	}
}

// printJSON writes v as indented JSON to stdout.
func (f *Factory) printJSON(v any) error {
	enc := json.NewEncoder(f.IO.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// confirm asks a yes/no question on the terminal unless yes is set. Without
// a terminal it fails, telling the user the whole command line to rerun
// with --yes (arguments and flags included: "environment clean --yes"
// alone would clean the active environment, not the one named).
func (f *Factory) confirm(c *cobra.Command, args []string, yes bool, question string) error {
	if yes {
		return nil
	}
	tty, err := f.IO.TTY()
	if err != nil {
		return newError(ExitUsage, "rerun with --yes to confirm: "+rerunLine(c, args)+" --yes",
			"%s needs a confirmation and there is no terminal to ask on", c.CommandPath())
	}
	defer tty.Close()
	answer, err := tty.Prompt(question + " [y/N]: ")
	if err != nil {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return newError(ExitError, "", "cancelled; nothing changed")
}

// rerunLine is the command line that ran c with args: its path, the
// arguments and every flag that was set, quoted for a POSIX shell. The
// commands that confirm take names, never values, as arguments and flags.
func rerunLine(c *cobra.Command, args []string) string {
	parts := []string{c.CommandPath()}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	c.Flags().Visit(func(fl *pflag.Flag) {
		switch {
		case fl.Name == "yes":
		case fl.Value.Type() == "bool":
			parts = append(parts, "--"+fl.Name)
		default:
			parts = append(parts, "--"+fl.Name, shellQuote(fl.Value.String()))
		}
	})
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -_.,/:=@%+.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,/:=@%+", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// plural returns "1 secret" / "2 secrets".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
