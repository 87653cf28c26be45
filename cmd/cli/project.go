package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/vault"
)

func init() { register(newProjectCmd) }

func newProjectCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "project",
		Short: "Create, list, select, rename and delete projects",
		Long:  "Projects group secrets; each has the environments development, staging and production.",
		Example: `  agentsecrets project create OPENCLAW_MANAGER
  agentsecrets project use OPENCLAW_MANAGER
  agentsecrets project list --json`,
	}
	cmd.AddCommand(newProjectCreateCmd(f), newProjectListCmd(f), newProjectUseCmd(f),
		newProjectUpdateCmd(f), newProjectDeleteCmd(f))
	return cmd
}

func newProjectCreateCmd(f *Factory) *cobra.Command {
	var desc string
	cmd := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a project in the active workspace",
		Example: `  agentsecrets project create OPENCLAW_MANAGER --description "OpenClaw credentials"`,
		Args:    exactArgs(1, "a project NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			s, err := f.Store()
			if err != nil {
				return err
			}
			if err := s.CreateProject(args[0], desc); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Created project %q\nNext: agentsecrets project use %s\n", args[0], args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&desc, "description", "", "a short description")
	return cmd
}

func newProjectListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the projects of the active workspace",
		Example: "  agentsecrets project list\n  agentsecrets project list --json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			s, err := f.Store()
			if err != nil {
				return err
			}
			ps, err := s.Projects()
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(map[string]any{"projects": ps})
			}
			if len(ps) == 0 {
				fmt.Fprintln(f.IO.Out, "No projects. Create one: agentsecrets project create NAME")
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  NAME\tDEVELOPMENT\tSTAGING\tPRODUCTION\tDESCRIPTION")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s %s\t%d\t%d\t%d\t%s\n", activeMark(p.Active), p.Name, p.Secrets[vault.Development],
					p.Secrets[vault.Staging], p.Secrets[vault.Production], cell(p.Description))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newProjectUseCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "use NAME",
		Short: "Make a project active",
		Long: `Make NAME the active project: in the project.json of the current directory
(if any) and in the global config, which is what runs outside a project
directory (exec, mcp) use.`,
		Example: "  agentsecrets project use OPENCLAW_MANAGER",
		Args:    exactArgs(1, "a project NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			s, err := f.Store()
			if err != nil {
				return err
			}
			if err := s.UseProject(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Active project: %s\n", args[0])
			return nil
		},
	}
}

func newProjectUpdateCmd(f *Factory) *cobra.Command {
	var name, desc string
	cmd := &cobra.Command{
		Use:     "update NAME",
		Short:   "Rename a project or change its description",
		Example: "  agentsecrets project update old-name --name new-name\n  agentsecrets project update api --description \"Public API\"",
		Args:    exactArgs(1, "a project NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			var u vault.ProjectUpdate
			if c.Flags().Changed("name") {
				u.Name = &name
			}
			if c.Flags().Changed("description") {
				u.Description = &desc
			}
			if u.Name == nil && u.Description == nil {
				return usageError(c.CommandPath(), "nothing to update: give --name or --description")
			}
			s, err := f.Store()
			if err != nil {
				return err
			}
			if err := s.UpdateProject(args[0], u); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Updated project %q\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "new name")
	cmd.Flags().StringVar(&desc, "description", "", "new description")
	return cmd
}

func newProjectDeleteCmd(f *Factory) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a project and all of its secret values",
		Long: `Delete NAME with every value of every environment, from the index and the
backend. Asks for confirmation on the terminal; --yes confirms for scripts.
This cannot be undone.`,
		Example: "  agentsecrets project delete old-project\n  agentsecrets project delete old-project --yes",
		Args:    exactArgs(1, "a project NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			// Checked before the lookup, whose error quotes the name: an
			// invalid one is said by its length (it may be a value).
			if err := vault.ValidateProjectName(args[0]); err != nil {
				return err
			}
			s, err := f.Store()
			if err != nil {
				return err
			}
			ps, err := s.Projects()
			if err != nil {
				return err
			}
			var target *vault.ProjectInfo
			for i := range ps {
				if ps[i].Name == args[0] {
					target = &ps[i]
				}
			}
			if target == nil {
				return newError(ExitNotFound, "agentsecrets project list", "project %q not found", args[0])
			}
			n := target.Secrets[vault.Development] + target.Secrets[vault.Staging] + target.Secrets[vault.Production]
			if err := f.confirm(c, args, yes, fmt.Sprintf("Delete project %q and its %s? This cannot be undone.", args[0], plural(n, "secret value"))); err != nil {
				return err
			}
			removed, err := s.DeleteProject(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Deleted project %q (%s removed)\n", args[0], plural(removed, "value"))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}
