package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/vault"
)

func init() { register(newEnvironmentCmd) }

func newEnvironmentCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "environment",
		Short: "Switch, list, copy, merge and clean environments",
		Long:  "Every project has three environments: development (the default), staging and production.",
		Example: `  agentsecrets environment list
  agentsecrets environment switch staging
  agentsecrets environment copy development staging`,
	}
	cmd.AddCommand(newEnvSwitchCmd(f), newEnvListCmd(f), newEnvCopyCmd(f), newEnvMergeCmd(f), newEnvCleanCmd(f))
	return cmd
}

func newEnvSwitchCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "switch ENVIRONMENT",
		Short:   "Make an environment active",
		Example: "  agentsecrets environment switch production",
		Args:    exactArgs(1, "an ENVIRONMENT (development, staging, production)"),
		RunE: func(_ *cobra.Command, args []string) error {
			s, err := f.Store()
			if err != nil {
				return err
			}
			ctx, err := s.ActivateEnvironment(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Active environment: %s (project %s)\n", ctx.Environment, ctx.Project)
			return nil
		},
	}
}

func newEnvListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the environments with their secret counts",
		Example: "  agentsecrets environment list\n  agentsecrets environment list --json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			s, ctx, err := f.storeAndContext()
			if err != nil {
				return err
			}
			envs, err := s.EnvironmentSummaries(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(map[string]any{"project": ctx.Project, "environments": envs})
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  ENVIRONMENT\tSECRETS")
			for _, e := range envs {
				fmt.Fprintf(tw, "%s %s\t%d\n", activeMark(e.Active), e.Name, e.Secrets)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newEnvCopyCmd(f *Factory) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "copy FROM TO",
		Short: "Copy every secret of one environment into another (same values)",
		Long: `Copy every key of FROM into TO with the same values. When keys already exist
in TO they are overwritten; that needs a confirmation on the terminal or --yes.`,
		Example: "  agentsecrets environment copy development staging",
		Args:    exactArgs(2, "FROM and TO environments"),
		RunE: func(c *cobra.Command, args []string) error {
			s, ctx, err := f.storeAndContext()
			if err != nil {
				return err
			}
			d, err := s.Diff(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			if args[0] == args[1] {
				return usageError(c.CommandPath(), "FROM and TO are both %q", args[0])
			}
			if over := append(append([]string{}, d.Differ...), d.Same...); len(over) > 0 {
				q := fmt.Sprintf("Overwrite %s in %s (%s)?", plural(len(over), "existing key"), args[1], strings.Join(over, ", "))
				if err := f.confirm(c, args, yes, q); err != nil {
					return err
				}
			}
			copied, err := s.Copy(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Copied %s from %s to %s\n", plural(len(copied), "secret"), args[0], args[1])
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "overwrite existing keys without asking")
	return cmd
}

func newEnvMergeCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "merge FROM TO",
		Short: "Set a new value in TO for every key of FROM (typed by a human)",
		Long: `For each key of FROM, ask on the terminal (hidden input) for the value it
should have in TO; an empty answer skips the key. Needs a human at a terminal.`,
		Example: "  agentsecrets environment merge staging production",
		Args:    exactArgs(2, "FROM and TO environments"),
		RunE: func(c *cobra.Command, args []string) error {
			s, ctx, err := f.storeAndContext()
			if err != nil {
				return err
			}
			if err := vault.ValidateEnvironment(args[1]); err != nil {
				return err
			}
			keys, err := s.Names(ctx.WithEnvironment(args[0]))
			if err != nil {
				return err
			}
			if args[0] == args[1] {
				return usageError(c.CommandPath(), "FROM and TO are both %q", args[0])
			}
			tty, err := f.IO.TTY()
			if err != nil {
				return newError(ExitAuth, "the user runs it in a terminal: "+rerunLine(c, args),
					"environment merge asks a human for each value and there is no terminal")
			}
			defer tty.Close()
			var set []string
			// stopped names the keys set before err stopped the merge.
			stopped := func(err error) error {
				if len(set) > 0 {
					fmt.Fprintf(f.IO.Out, "Set %s in %s (%s) before stopping\n", plural(len(set), "secret"), args[1], strings.Join(set, ", "))
				}
				return err
			}
			for _, k := range keys {
				v, err := tty.PromptHidden(fmt.Sprintf("%s value in %s (empty to skip): ", k, args[1]))
				if errors.Is(err, errSeveralLines) {
					line := "agentsecrets secrets set"
					if f.Project != "" {
						line += " --project " + shellQuote(f.Project)
					}
					return stopped(newError(ExitUsage, "give a value of several lines on stdin: "+line+" --env "+args[1]+" "+k+" < FILE",
						"the value typed for %s has more than one line (a paste?); it was not stored", k))
				}
				if err != nil {
					return stopped(err)
				}
				if len(v) == 0 {
					continue
				}
				if err := s.Set(ctx.WithEnvironment(args[1]), k, v); err != nil {
					return stopped(err)
				}
				set = append(set, k)
			}
			fmt.Fprintf(f.IO.Out, "Set %s in %s\n", plural(len(set), "secret"), args[1])
			return nil
		},
	}
}

func newEnvCleanCmd(f *Factory) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "clean",
		Short:   "Delete every secret of the active environment",
		Long:    "Delete every key of the active environment (or --env). Asks on the terminal; --yes confirms.",
		Example: "  agentsecrets environment clean --env staging --yes",
		Args:    exactArgs(0, "no arguments (use --env to pick the environment)"),
		RunE: func(c *cobra.Command, args []string) error {
			s, ctx, err := f.storeAndContext()
			if err != nil {
				return err
			}
			keys, err := s.Names(ctx)
			if err != nil {
				return err
			}
			if len(keys) == 0 {
				fmt.Fprintf(f.IO.Out, "No secrets in %s\n", ctx.Environment)
				return nil
			}
			if err := f.confirm(c, args, yes, fmt.Sprintf("Delete %s from %s of %q?", plural(len(keys), "secret"), ctx.Environment, ctx.Project)); err != nil {
				return err
			}
			removed, err := s.Clean(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Deleted %s from %s\n", plural(len(removed), "secret"), ctx.Environment)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}
