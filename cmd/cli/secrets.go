package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/vault"
)

// maxValueSize bounds a value read from stdin.
const maxValueSize = 1 << 20

func init() { register(newSecretsCmd) }

func newSecretsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Set, get, list, delete, bind and compare secrets",
		Long: `Secrets live in the active project and environment (--project and --env
override them). Names are UPPER_SNAKE_CASE; values are typed by a human and
never printed to an agent. A secret can be bound to domains (it is then only
sent to those) and given an expiry date, which secrets list flags.`,
		Example: `  agentsecrets secrets set STRIPE_KEY          # hidden prompt
  printf %s "$VALUE" | agentsecrets secrets set STRIPE_KEY
  agentsecrets secrets list
  agentsecrets secrets bind STRIPE_KEY api.stripe.com
  agentsecrets secrets expire STRIPE_KEY 2027-01-31
  agentsecrets secrets diff --from development --to production`,
	}
	cmd.AddCommand(newSecretsSetCmd(f), newSecretsGetCmd(f), newSecretsListCmd(f), newSecretsDeleteCmd(f),
		newSecretsBindCmd(f), newSecretsUnbindCmd(f), newSecretsExpireCmd(f), newSecretsDiffCmd(f), newSyncCmd(f, "push", "Upload secrets to the sync server, encrypted (needs a sync server)"),
		newSyncCmd(f, "pull", "Download secrets from the sync server into the vault (needs a sync server)"))
	return cmd
}

// storedSecret validates the name key, opens the vault, resolves the
// context and fails when key is not set in the active environment. It
// reads no value.
func (f *Factory) storedSecret(key string) (*vault.Store, vault.Context, error) {
	if err := vault.ValidateKeyName(key); err != nil {
		return nil, vault.Context{}, err
	}
	s, ctx, err := f.storeAndContext()
	if err != nil {
		return nil, vault.Context{}, err
	}
	if _, err := s.Entry(ctx, key); err != nil {
		return nil, vault.Context{}, err
	}
	return s, ctx, nil
}

type assignment struct {
	key   string
	value []byte
}

func newSecretsSetCmd(f *Factory) *cobra.Command {
	var expiresArg string
	cmd := &cobra.Command{
		Use:   "set KEY | KEY=value [KEY=value ...]",
		Short: "Store a secret in the active environment",
		Long: `Store a secret. With a bare KEY the value comes from a hidden prompt when
stdin is a terminal (one line: a value of several lines is refused there and
must be piped), or from stdin when it is piped (one trailing newline is
removed). KEY=value pairs are accepted too, several at once, but a value on the
command line is visible to other processes and shell history, so a warning is
printed. --expires records when the value stops being valid (see secrets
expire); a new value keeps the expiry and domain binding the key had.`,
		Example: `  agentsecrets secrets set STRIPE_KEY
  printf %s "$TOKEN" | agentsecrets secrets set GITHUB_TOKEN --expires 2027-01-31
  agentsecrets secrets set STRIPE_KEY=sk_test_123 OPENAI_KEY=sk-abc`,
		Args: minArgs(1, "KEY, or one or more KEY=value"),
		RunE: func(c *cobra.Command, args []string) error {
			as, err := parseAssignments(c.CommandPath(), args, f.setLine)
			if err != nil {
				return err
			}
			var expires *time.Time
			if c.Flags().Changed("expires") {
				if expires, err = parseExpiry(expiresArg); err != nil {
					return err
				}
			}
			s, ctx, err := f.storeAndContext()
			if err != nil {
				return err
			}
			if len(as) == 1 && as[0].value == nil {
				if as[0].value, err = f.readValue(as[0].key); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(f.IO.ErrOut, "agentsecrets: warning: values given as KEY=value are visible to other processes and kept in shell history; prefer `agentsecrets secrets set KEY` and type the value")
			}
			for _, a := range as {
				if err := s.Set(ctx, a.key, a.value); err != nil {
					return err
				}
				if c.Flags().Changed("expires") {
					if err := s.SetExpiry(ctx, a.key, expires); err != nil {
						return err
					}
				}
				fmt.Fprintf(f.IO.Out, "Set %s in %s (%s)%s\n", a.key, ctx.Project, ctx.Environment, expirySuffix(c, expires))
				if expires != nil {
					f.warnExpired(a.key, *expires)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&expiresArg, "expires", "", "record when the value expires: YYYY-MM-DD, RFC 3339, or never to clear")
	return cmd
}

// expirySuffix tells what set did with --expires.
func expirySuffix(c *cobra.Command, expires *time.Time) string {
	switch {
	case !c.Flags().Changed("expires"):
		return ""
	case expires == nil:
		return ", no expiry"
	}
	return ", expires " + formatExpiry(*expires)
}

// setLine is the command that sets key with the --project and --env
// flags this one was given.
func (f *Factory) setLine(key string) string { return f.commandLine("secrets set", []string{key}) }

// parseAssignments validates every argument before anything is stored;
// setLine gives the command that sets a key, for hints.
func parseAssignments(cmdPath string, args []string, setLine func(key string) string) ([]assignment, error) {
	var out []assignment
	seen := map[string]bool{}
	for _, arg := range args {
		key, value, hasValue := strings.Cut(arg, "=")
		if err := vault.ValidateKeyName(key); err != nil {
			return nil, err
		}
		if !hasValue && len(args) > 1 {
			return nil, usageError(cmdPath, "give either one KEY (value from a prompt or stdin) or KEY=value pairs, not %q among pairs", key)
		}
		if hasValue && value == "" {
			return nil, newError(ExitUsage, "give a value, or use `"+setLine(key)+"` to type it", "empty value for %s", key)
		}
		if seen[key] {
			return nil, usageError(cmdPath, "%s given twice", key)
		}
		seen[key] = true
		a := assignment{key: key}
		if hasValue {
			a.value = []byte(value)
		}
		out = append(out, a)
	}
	return out, nil
}

// readValue reads a value from a hidden prompt (stdin a terminal) or from
// piped stdin, removing one trailing newline. It never reads a terminal
// with echo on (AGENTSECRETS_NO_TTY=1 with a terminal on stdin).
func (f *Factory) readValue(key string) ([]byte, error) {
	if f.IO.IsStdinTTY() {
		v, err := f.IO.readHiddenStdin(fmt.Sprintf("Value for %s (hidden): ", key))
		if errors.Is(err, errSeveralLines) {
			return nil, newError(ExitUsage, "give a value of several lines on stdin: "+f.setLine(key)+" < FILE",
				"the value typed for %s has more than one line (a paste?); nothing stored", key)
		}
		if err != nil {
			return nil, err
		}
		if len(v) == 0 {
			return nil, newError(ExitUsage, "", "empty value for %s; nothing stored", key)
		}
		return v, nil
	}
	if f.IO.In == nil {
		return nil, newError(ExitUsage, "pipe the value: printf %s \"$VALUE\" | "+f.setLine(key), "no value for %s on stdin", key)
	}
	if f.IO.stdinTTY { // AGENTSECRETS_NO_TTY=1: read as a pipe, the value would show as typed
		return nil, newError(ExitUsage, "unset AGENTSECRETS_NO_TTY to type the value at a hidden prompt, or pipe it: printf %s \"$VALUE\" | "+f.setLine(key),
			"stdin is a terminal and AGENTSECRETS_NO_TTY=1 turns off the hidden prompt; nothing stored")
	}
	// Room for the trailing newline removed below.
	v, err := io.ReadAll(io.LimitReader(f.IO.In, maxValueSize+3))
	if err != nil {
		return nil, err
	}
	if bytes.HasSuffix(v, []byte("\r\n")) {
		v = v[:len(v)-2]
	} else if bytes.HasSuffix(v, []byte("\n")) {
		v = v[:len(v)-1]
	}
	if len(v) > maxValueSize {
		return nil, newError(ExitUsage, fmt.Sprintf("pipe a value of at most %d bytes: printf %%s \"$VALUE\" | %s", maxValueSize, f.setLine(key)),
			"value for %s is larger than %d bytes; nothing stored", key, maxValueSize)
	}
	if len(v) == 0 {
		return nil, newError(ExitUsage, "the user runs `"+f.setLine(key)+"` in a terminal and types the value",
			"empty value for %s on stdin; nothing stored", key)
	}
	return v, nil
}

func newSecretsGetCmd(f *Factory) *cobra.Command {
	var toPipe bool
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Print a secret's value to the terminal (for the user, not an agent)",
		Long: `Print the value of KEY. It is printed only when stdout is a terminal; writing
it to a pipe or file needs --reveal-to-pipe, which warns. Agents use
` + "`agentsecrets call`" + `, ` + "`env`" + ` or ` + "`exec`" + ` instead and never read values.`,
		Example: "  agentsecrets secrets get STRIPE_KEY\n  agentsecrets secrets get STRIPE_KEY --reveal-to-pipe | pbcopy",
		Args:    exactArgs(1, "a KEY"),
		RunE: func(_ *cobra.Command, args []string) error {
			s, ctx, err := f.storedSecret(args[0])
			if err != nil {
				return err
			}
			tty := f.IO.IsStdoutTTY()
			if !tty && !toPipe {
				return newError(ExitError, "the user runs it in a terminal; to write the value to a pipe add --reveal-to-pipe",
					"refusing to print the value of %s: stdout is not a terminal", args[0])
			}
			v, err := s.Get(ctx, args[0])
			if err != nil {
				return err
			}
			if !tty {
				fmt.Fprintf(f.IO.ErrOut, "agentsecrets: warning: writing the value of %s to a pipe (--reveal-to-pipe)\n", args[0])
				_, err = f.IO.Out.Write(v.Bytes())
				return err
			}
			_, err = fmt.Fprintf(f.IO.Out, "%s\n", v.Bytes())
			return err
		},
	}
	cmd.Flags().BoolVar(&toPipe, "reveal-to-pipe", false, "write the value even when stdout is not a terminal (warns)")
	return cmd
}

func newSecretsListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List key names with coverage across environments (never values)",
		Long: `List every key of the project with the environments it is set in, its
expiry per environment ("(expired)" once passed; --json has the times and an
"expired" list of environments) and its domain binding per environment (none:
any domain on the workspace allowlist).`,
		Example: `  agentsecrets secrets list
  agentsecrets secrets list --project OPENCLAW_MANAGER --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			s, ctx, err := f.storeAndContext()
			if err != nil {
				return err
			}
			keys, err := s.List(ctx)
			if err != nil {
				return err
			}
			now := time.Now()
			if asJSON {
				listed := make([]listedKey, len(keys))
				for i, k := range keys {
					listed[i] = listedKey{KeyStatus: k, Expired: expiredEnvs(k.Expires, now)}
				}
				return f.printJSON(map[string]any{"workspace": ctx.Workspace, "project": ctx.Project,
					"environment": ctx.Environment, "keys": listed})
			}
			fmt.Fprintf(f.IO.Out, "Project %s (workspace %s), active environment: %s\n", ctx.Project, ctx.Workspace, ctx.Environment)
			if len(keys) == 0 {
				fmt.Fprintln(f.IO.Out, "No secrets yet. The user adds one in a terminal: agentsecrets secrets set KEY_NAME")
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tDEVELOPMENT\tSTAGING\tPRODUCTION\tEXPIRES\tDOMAINS")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.Name, mark(k.Environments[vault.Development]),
					mark(k.Environments[vault.Staging]), mark(k.Environments[vault.Production]),
					expiries(k.Expires, now), bindings(k.Domains))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// activeMark is the first column of a listing: "*" on the active row.
func activeMark(active bool) string {
	if active {
		return "*"
	}
	return " "
}

func mark(set bool) string {
	if set {
		return "set"
	}
	return "-"
}

// listedKey is a key as secrets list --json prints it.
type listedKey struct {
	vault.KeyStatus
	// Expired names the environments where the key's expiry has passed.
	Expired []string `json:"expired,omitempty"`
}

// expiredEnvs returns the environments, in order, whose expiry is not
// after now.
func expiredEnvs(m map[string]time.Time, now time.Time) []string {
	var out []string
	for _, env := range vault.Environments {
		if t, ok := m[env]; ok && !t.After(now) {
			out = append(out, env)
		}
	}
	return out
}

// expiries is the EXPIRES cell: env:date per environment, "(expired)"
// after those that have passed.
func expiries(m map[string]time.Time, now time.Time) string {
	var parts []string
	for _, env := range vault.Environments {
		if t, ok := m[env]; ok {
			p := env + ":" + formatExpiry(t)
			if !t.After(now) {
				p += " (expired)"
			}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// bindings is the DOMAINS cell: env:domain,domain per bound environment.
func bindings(m map[string][]string) string {
	var parts []string
	for _, env := range vault.Environments {
		if ds := m[env]; len(ds) > 0 {
			parts = append(parts, env+":"+strings.Join(ds, ","))
		}
	}
	return strings.Join(parts, " ")
}

func newSecretsDeleteCmd(f *Factory) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete a secret from the active environment",
		Long: `Delete KEY from the active environment (or --env). Asks on the terminal; --yes confirms. Cannot be undone.
Run again after a delete that failed or was interrupted, it removes the value that delete left in the vault.`,
		Example: "  agentsecrets secrets delete OLD_KEY --yes",
		Args:    exactArgs(1, "a KEY"),
		RunE: func(c *cobra.Command, args []string) error {
			s, ctx, err := f.storedSecret(args[0])
			if errors.Is(err, vault.ErrNotFound) {
				// Not listed: a delete interrupted once the index no
				// longer listed the key may have left its value, which
				// running it again removes. Nothing to delete: not a
				// reason to set it.
				if s, ctx, err = f.storeAndContext(); err != nil {
					return err
				}
				if err = s.RemoveLeftover(ctx, args[0]); err == nil {
					fmt.Fprintf(f.IO.Out, "Deleted %s from %s (%s): its value, left in the vault by an earlier delete\n", args[0], ctx.Project, ctx.Environment)
					return nil
				}
			}
			if errors.Is(err, vault.ErrNotFound) {
				return &Error{Code: ExitNotFound, Err: err, Msg: err.Error(), Hint: f.commandLine("secrets list", nil)}
			}
			if err != nil {
				return err
			}
			if err := f.confirm(c, args, yes, fmt.Sprintf("Delete %s from %s (%s)?", args[0], ctx.Project, ctx.Environment)); err != nil {
				return err
			}
			if err := s.Delete(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Deleted %s from %s (%s)\n", args[0], ctx.Project, ctx.Environment)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func newSecretsDiffCmd(f *Factory) *cobra.Command {
	var from, to string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff --from ENV --to ENV",
		Short: "Compare two environments (by fingerprint, never by value)",
		Long: `Show keys missing on either side and keys whose values differ between two
environments. Values are compared by keyed fingerprint and never shown. Without
--from/--to it would compare the vault with a sync server, which is not
configured (local-first).`,
		Example: "  agentsecrets secrets diff --from development --to production\n  agentsecrets secrets diff --from staging --to production --json",
		Args:    exactArgs(0, "no arguments (use --from and --to)"),
		RunE: func(c *cobra.Command, _ []string) error {
			if from == "" && to == "" {
				return noSyncServer(c.CommandPath(), "compare environments instead: agentsecrets secrets diff --from development --to production")
			}
			if from == "" || to == "" {
				return usageError(c.CommandPath(), "give both --from and --to")
			}
			s, ctx, err := f.storeAndContext()
			if err != nil {
				return err
			}
			d, err := s.Diff(ctx, from, to)
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(struct {
					Project string `json:"project"`
					InSync  bool   `json:"in_sync"`
					vault.Diff
				}{ctx.Project, d.InSync(), d})
			}
			printDiff(f, ctx.Project, d)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "environment to compare from")
	cmd.Flags().StringVar(&to, "to", "", "environment to compare to")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printDiff(f *Factory, project string, d vault.Diff) {
	w := f.IO.Out
	fmt.Fprintf(w, "Project %s: %s -> %s\n", project, d.From, d.To)
	if d.InSync() {
		fmt.Fprintf(w, "In sync: %s\n", plural(len(d.Same), "key"))
		return
	}
	section := func(title string, keys []string) {
		if len(keys) == 0 {
			return
		}
		fmt.Fprintln(w, title)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s\n", k)
		}
	}
	section("Missing in "+d.To+" (only in "+d.From+"):", d.OnlyInFrom)
	section("Missing in "+d.From+" (only in "+d.To+"):", d.OnlyInTo)
	section("Different values:", d.Differ)
	fmt.Fprintf(w, "Same: %s\n", plural(len(d.Same), "key"))
}

func noSyncServer(what, hint string) error {
	return newError(ExitError, hint, "%s: no sync server configured yet (agentsecrets is local-first; values stay in this machine's vault)", what)
}

func newSyncCmd(f *Factory, name, short string) *cobra.Command {
	return &cobra.Command{
		Use:     name,
		Short:   short,
		Long:    short + ". No sync server is configured yet: values stay in this machine's vault.",
		Example: "  agentsecrets secrets " + name,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			return noSyncServer(c.CommandPath(), "nothing to do: secrets are stored locally; see agentsecrets secrets list")
		},
	}
}
