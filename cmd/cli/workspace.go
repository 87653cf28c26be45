package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/vault"
)

func init() { register(newWorkspaceCmd) }

func newWorkspaceCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workspace",
		Short: "Workspaces and their domain allowlist",
		Long: `A workspace holds projects and the domain allowlist. Locally there is one
workspace, "default"; team workspaces come with a sync server.`,
		Example: "  agentsecrets workspace list\n  agentsecrets workspace allowlist list",
	}
	cmd.AddCommand(newWorkspaceListCmd(f), newAllowlistCmd(f))
	cmd.AddCommand(workspaceServerCmds(f)...)
	return cmd
}

func newWorkspaceListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the local workspaces",
		Example: "  agentsecrets workspace list --json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			s, err := f.Store()
			if err != nil {
				return err
			}
			ws, err := s.Workspaces()
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(map[string]any{"workspaces": ws})
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  NAME\tPROJECTS\tALLOWED DOMAINS")
			for _, w := range ws {
				fmt.Fprintf(tw, "%s %s\t%d\t%d\n", activeMark(w.Active), w.Name, w.Projects, w.Allowlist)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAllowlistCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "allowlist",
		Short: "Domains secrets may be sent to",
		Long: `The allowlist names the hosts authenticated calls may reach. An empty
allowlist blocks every call. Adding or removing domains needs a human typing a
confirmation at a terminal; no flag skips it, so an agent cannot change it.`,
		Example: `  agentsecrets workspace allowlist list
  agentsecrets workspace allowlist add api.stripe.com *.example.com`,
	}
	cmd.AddCommand(newAllowlistListCmd(f), newAllowlistChangeCmd(f, true), newAllowlistChangeCmd(f, false),
		newAllowlistLogCmd(f))
	return cmd
}

func newAllowlistListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the allowed domains",
		Example: "  agentsecrets workspace allowlist list --json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			s, err := f.Store()
			if err != nil {
				return err
			}
			ws, err := s.Workspace()
			if err != nil {
				return err
			}
			list, err := s.Allowlist()
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(map[string]any{"workspace": ws, "domains": list})
			}
			if len(list) == 0 {
				fmt.Fprintf(f.IO.Out, "The allowlist of workspace %q is empty: every call is blocked.\n", ws)
				return nil
			}
			for _, d := range list {
				fmt.Fprintln(f.IO.Out, d)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAllowlistChangeCmd(f *Factory, add bool) *cobra.Command {
	verb, prep := "remove", "from"
	if add {
		verb, prep = "add", "to"
	}
	return &cobra.Command{
		Use:   verb + " DOMAIN [DOMAIN...]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " domains " + prep + " the allowlist (a human confirms at a terminal)",
		Long: `Domains are host names with an optional leading "*." (api.stripe.com,
*.example.com); no scheme, path or port. The change is shown on the terminal
and a human confirms it by typing the domain(s) back, or "yes". There is no
flag to skip this: without a terminal the command fails and nothing changes.`,
		Example: "  agentsecrets workspace allowlist " + verb + " api.stripe.com",
		Args:    minArgs(1, "one or more DOMAINs"),
		RunE: func(c *cobra.Command, args []string) error {
			domains, err := vault.NormalizeDomains(args)
			if err != nil {
				return err
			}
			s, err := f.Store()
			if err != nil {
				return err
			}
			ws, err := s.Workspace()
			if err != nil {
				return err
			}
			current, err := s.Allowlist()
			if err != nil {
				return err
			}
			var change []string
			for _, d := range domains {
				if add {
					// Refused before the human is asked to confirm it.
					if err := vault.ValidateWildcardScope(d); err != nil {
						return err
					}
				}
				if slices.Contains(current, d) == !add {
					change = append(change, d)
				} else if !add {
					return newError(ExitNotFound, "agentsecrets workspace allowlist list", "domain %q is not in the allowlist", d)
				}
			}
			if len(change) == 0 {
				fmt.Fprintf(f.IO.Out, "Already allowed: %s\n", strings.Join(domains, " "))
				return nil
			}
			if err := f.confirmAllowlist(ws, verb, prep, change); err != nil {
				return err
			}
			return f.changeAllowlist(s, ws, add, change)
		},
	}
}

// changeAllowlist makes a confirmed change. The vault records it in the
// audit log under its lock (recordAllowlistChange), so the log must open
// first: without it nothing changes. A change made but not recorded is
// reported as done, and then as an error.
func (f *Factory) changeAllowlist(s *vault.Store, ws string, add bool, domains []string) error {
	if _, err := f.Audit(); err != nil {
		return &Error{Code: ExitError, Err: err, Hint: auditHomeHint,
			Msg: "cannot open the audit log, which records every allowlist change; nothing changed: " + err.Error()}
	}
	change := s.AllowlistRemove
	if add {
		change = s.AllowlistAdd
	}
	changed, err := change(domains)
	if err != nil && !errors.Is(err, vault.ErrNotRecorded) {
		return err
	}
	if len(changed) == 0 { // another process added them meanwhile
		fmt.Fprintf(f.IO.Out, "Already allowed: %s\n", strings.Join(domains, " "))
		return nil
	}
	past, prep := "Added", "to"
	if !add {
		past, prep = "Removed", "from"
	}
	fmt.Fprintf(f.IO.Out, "%s %s %s the allowlist of workspace %q\n", past, strings.Join(changed, " "), prep, ws)
	if err != nil {
		cause := strings.TrimPrefix(err.Error(), vault.ErrNotRecorded.Error()+": ")
		return &Error{Code: ExitError, Err: err, Hint: "the change stays; " + auditHomeHint + ", then agentsecrets proxy logs --verify",
			Msg: "the allowlist was changed but the change is not in the audit log: " + cause}
	}
	return nil
}

// auditHomeHint is what to check when the audit log cannot be written.
const auditHomeHint = "check that the agentsecrets home is writable (the audit log is audit.db there)"

// confirmAllowlist shows the change on the controlling terminal and wants
// the domains typed back, or "yes".
func (f *Factory) confirmAllowlist(ws, verb, prep string, domains []string) error {
	quoted := make([]string, len(domains))
	for i, d := range domains {
		quoted[i] = shellQuote(d) // a wildcard must reach the command, not the shell's globbing
	}
	cmdLine := "agentsecrets workspace allowlist " + verb + " " + strings.Join(quoted, " ")
	tty, err := f.IO.TTY()
	if err != nil {
		return newError(ExitAuth, "ask the user to run this in their terminal: "+cmdLine,
			"allowlist changes need a human at a terminal, and there is none; nothing changed")
	}
	defer tty.Close()
	tty.Printf("About to %s %s the domain allowlist of workspace %q:\n", strings.ToUpper(verb), prep, ws)
	for _, d := range domains {
		tty.Printf("  %s\n", d)
	}
	answer, err := tty.Prompt("Type the domain(s) above, or \"yes\", to confirm: ")
	if err != nil {
		return err
	}
	answer = strings.TrimSpace(answer)
	if strings.EqualFold(answer, "yes") {
		return nil
	}
	typed, err := vault.NormalizeDomains(strings.Fields(answer))
	if err == nil {
		slices.Sort(typed)
		want := slices.Clone(domains)
		slices.Sort(want)
		if slices.Equal(typed, want) {
			return nil
		}
	}
	return newError(ExitError, "run it again and type the domain(s) exactly: "+cmdLine,
		"confirmation did not match; nothing changed")
}

// newAllowlistLogCmd is the operator's guide's "blocked request log": the
// local audit entries refused because a host is not on the allowlist or
// not in a secret's binding, with the changes of the allowlist between
// them, so a refusal and the change that answered it read together.
func newAllowlistLogCmd(f *Factory) *cobra.Command {
	var last int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "log [--last N] [--json]",
		Short: "Show the requests refused by the allowlist or a domain binding, and the list's changes",
		Long: `Show the local audit entries of requests that were refused because their
host is not on the workspace allowlist (blocked_allowlist) or not in the
secret's domain binding (denied_binding), oldest first, and between them the
changes of the allowlist (source allowlist, method ADD or REMOVE, the domains
after "allowlist:"; --json gives them as proxy logs --json does). --env
limits the refusals to one environment; the changes, which hold for every
environment, are always shown. --last counts both. The whole audit log is
read with agentsecrets proxy logs.`,
		Example: `  agentsecrets workspace allowlist log
  agentsecrets workspace allowlist log --last 5 --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if last < 0 {
				return usageError("agentsecrets workspace allowlist log", "--last %d must not be negative", last)
			}
			sink, err := f.Audit()
			if err != nil {
				return err
			}
			store, ok := sink.(*audit.Store)
			if !ok {
				return fmt.Errorf("workspace allowlist log: the audit log is not a local store")
			}
			all, err := store.Query(c.Context(), audit.Filter{})
			if err != nil {
				return unreadableLog(err)
			}
			var entries []audit.Entry
			for _, e := range all {
				if allowlistLogShows(e, f.Environment) {
					entries = append(entries, e)
				}
			}
			if last > 0 && len(entries) > last {
				entries = entries[len(entries)-last:]
			}
			return printLogEntries(f, entries, asJSON, "no blocked requests and no allowlist changes")
		},
	}
	cmd.Flags().IntVar(&last, "last", 50, "show the N most recent blocked requests and changes (0: all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// allowlistLogShows reports whether workspace allowlist log shows e: a
// change of the allowlist, or a refusal by the allowlist or a binding in
// environment env ("" for any).
func allowlistLogShows(e audit.Entry, env string) bool {
	if e.Source == audit.SourceAllowlist {
		return true
	}
	refused := e.Decision == audit.DecisionBlockedAllowlist || e.Decision == audit.DecisionDeniedBinding
	return refused && (env == "" || e.Environment == env)
}
