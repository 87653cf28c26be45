package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/vault"
)

func init() { register(newStatusCmd) }

func newStatusCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the active workspace, project, environment and backend",
		Long: `Show the current context: account (local-first: none), workspace, project,
environment, value backend, storage mode, last sync and the project.json in
use. Exits 6 with NOT_INITIALIZED when no project is found. Never opens the
keychain. With --json, account and last_sync are null when there is no
account (local-first) or no sync yet.`,
		Example: `  agentsecrets status
  agentsecrets status --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := f.Store()
			if err != nil {
				return err
			}
			st, err := s.Status()
			if err != nil {
				return err
			}
			if asJSON {
				out := struct {
					State string `json:"state"`
					// Account is the logged-in user: none without a
					// sync server, so always null for now.
					Account *string `json:"account"`
					vault.Status
					// LastSync is null when never synced, rather than
					// absent, as account is.
					LastSync *time.Time `json:"last_sync"`
				}{State: stateOf(st), Status: st, LastSync: st.LastSync}
				if err := f.printJSON(out); err != nil {
					return err
				}
			} else {
				printStatus(f, st)
			}
			switch {
			case !st.Initialized:
				return newError(ExitNotFound, "agentsecrets init --storage-mode 1", "NOT_INITIALIZED: no project config found in this directory or its parents")
			case !st.ProjectExists:
				return newError(ExitNotFound, "agentsecrets project create "+st.Project, "project %q does not exist in workspace %q", st.Project, st.Workspace)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func stateOf(st vault.Status) string {
	switch {
	case !st.Initialized:
		return "NOT_INITIALIZED"
	case !st.ProjectExists:
		return "PROJECT_NOT_FOUND"
	}
	return "OK"
}

func printStatus(f *Factory, st vault.Status) {
	w := f.IO.Out
	// Labels are right-aligned so that a value follows its label after one
	// space, as the operator's guide shows it ("Environment: development")
	// and an agent greps it.
	row := func(k, v string) { fmt.Fprintf(w, "%13s %s\n", k+":", v) }
	row("Status", stateOf(st))
	row("Account", "none (local-first, no sync server configured)")
	row("Workspace", st.Workspace)
	if st.Project != "" {
		row("Project", st.Project)
	} else {
		row("Project", "(none)")
	}
	row("Environment", st.Environment)
	row("Backend", st.Backend)
	mode := "1 (vault only)"
	if st.StorageMode == 2 {
		mode = "2 (vault + PLAINTEXT .env)"
	}
	row("Storage mode", mode)
	row("Last sync", timeOrNever(st.LastSync))
	if st.ProjectFile != "" {
		row("Project file", st.ProjectFile)
	}
	row("Home", st.Home)
}

func timeOrNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Local().Format(time.RFC3339)
}
