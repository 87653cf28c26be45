package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/vault"
)

func init() { register(newInitCmd) }

func newInitCmd(f *Factory) *cobra.Command {
	var mode int
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Initialise a project in the current directory",
		Long: `Create .agentsecrets/project.json in the current directory for a project named
after the directory (or --project NAME), in the active workspace, environment
development. The first init also chooses the value backend (the OS keychain when
it answers, else the encrypted file; AGENTSECRETS_BACKEND=keychain|file forces
one) and records it so the choice never changes later.

Storage mode 1 keeps values in the vault only and writes a .env.example of key
names. Storage mode 2 also writes a PLAINTEXT .env of the active environment's
values on every change.`,
		Example: `  agentsecrets init --storage-mode 1
  agentsecrets init --project OPENCLAW_MANAGER --storage-mode 1`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if mode != 1 && mode != 2 {
				return usageError(c.CommandPath(), "--storage-mode must be 1 (vault only) or 2 (also a plaintext .env), not %d", mode)
			}
			s, err := f.Store()
			if err != nil {
				return err
			}
			ctx, err := s.Init(vault.InitOptions{Project: f.Project, StorageMode: mode})
			if err != nil {
				return err
			}
			if mode == 2 { // only once initialised: a refused init writes no .env
				fmt.Fprintln(f.IO.ErrOut, "agentsecrets: WARNING: storage mode 2 writes secret values in PLAINTEXT to .env in this directory on every change")
				fmt.Fprintln(f.IO.ErrOut, "agentsecrets: WARNING: keep .env out of version control; storage mode 1 is the safe choice")
			}
			kind, _ := s.BackendKind()
			fmt.Fprintf(f.IO.Out, "Initialised project %q in %s\n", ctx.Project, ctx.ProjectFile)
			fmt.Fprintf(f.IO.Out, "Workspace: %s  Environment: %s  Storage mode: %d  Backend: %s\n", ctx.Workspace, ctx.Environment, ctx.StorageMode, kind)
			fmt.Fprintf(f.IO.Out, "Next: the user runs `agentsecrets secrets set KEY_NAME` in a terminal to add a secret\n")
			return nil
		},
	}
	cmd.Flags().IntVar(&mode, "storage-mode", 1, "1 = vault only (plus .env.example of names), 2 = also a plaintext .env")
	return cmd
}
