package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// The operator's guide lists commands that need the sync server (accounts,
// team workspaces, the global audit log). Until there is one they exist so
// that an agent following the guide gets a clear answer and the local
// command to use instead, not "unknown command".

func init() { register(newLoginCmd); register(newLogoutCmd); register(newLogCmd) }

func newLoginCmd(*Factory) *cobra.Command {
	return newServerOnlyCmd("login", "Log in to an agentsecrets account (needs a sync server)",
		"nothing to do: the local vault needs no account; see agentsecrets status")
}

func newLogoutCmd(*Factory) *cobra.Command {
	return newServerOnlyCmd("logout", "Clear the account session (needs a sync server)",
		"nothing to do: no account session is kept; see agentsecrets status")
}

func newLogCmd(*Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "The global audit log of a sync server (the local one is agentsecrets proxy logs)",
		Long: `The global audit log lives on a sync server, which is not configured. The
local audit log of every call, proxied request and exec resolution is read
with agentsecrets proxy logs.`,
		Example: "  agentsecrets proxy logs --last 20\n  agentsecrets proxy logs --agent billing-tool --json",
	}
	const hint = "the local audit log: agentsecrets proxy logs --help"
	for _, sub := range []struct{ use, short string }{
		{"list", "List global audit entries"},
		{"summary", "Global statistics"},
		{"export", "Export global audit entries"},
		{"detail", "One global audit entry"},
	} {
		cmd.AddCommand(newServerOnlyCmd(sub.use, sub.short+" (needs a sync server)", hint))
	}
	return cmd
}

// workspaceServerCmds are the team-workspace commands of the guide.
func workspaceServerCmds(f *Factory) []*cobra.Command {
	const hint = `the local vault has one workspace, "default": agentsecrets workspace list`
	return []*cobra.Command{
		newServerOnlyCmd("create", "Create a team workspace (needs a sync server)", hint),
		newWorkspaceSwitchCmd(f, hint),
		newServerOnlyCmd("invite", "Invite a teammate (needs a sync server)", hint),
		newServerOnlyCmd("promote", "Grant a teammate the admin role (needs a sync server)", hint),
		newServerOnlyCmd("demote", "Revoke a teammate's admin role (needs a sync server)", hint),
	}
}

// newServerOnlyCmd is a command that needs the sync server: whatever its
// arguments and flags, it fails with exit code 1 and the hint.
func newServerOnlyCmd(use, short, hint string) *cobra.Command {
	return &cobra.Command{
		Use:                use,
		Short:              short,
		Long:               short + ". No sync server is configured yet: agentsecrets is local-first.",
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if slices.Contains(args, "--help") || slices.Contains(args, "-h") {
				return c.Help()
			}
			return noSyncServer(c.CommandPath(), hint)
		},
	}
}

// newWorkspaceSwitchCmd is the guide's workspace switch. Switching to the
// active workspace changes nothing and succeeds, so that an agent that
// follows the guide with the name workspace list shows is not told it
// failed; any other workspace needs the sync server.
func newWorkspaceSwitchCmd(f *Factory, hint string) *cobra.Command {
	cmd := newServerOnlyCmd("switch", "Switch the active workspace (needs a sync server for any but the active one)", hint)
	cmd.Use = "switch NAME"
	cmd.Long = `Switch the active workspace. Locally there is one workspace, "default":
switching to the active one (the one agentsecrets workspace list marks with *)
changes nothing and succeeds. Any other workspace needs a sync server, which
is not configured yet: agentsecrets is local-first.`
	cmd.Example = "  agentsecrets workspace list\n  agentsecrets workspace switch default"
	serverOnly := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) != 1 || strings.HasPrefix(args[0], "-") {
			return serverOnly(c, args)
		}
		s, err := f.Store()
		if err != nil {
			return err
		}
		ws, err := s.Workspace()
		if err != nil {
			return err
		}
		if args[0] != ws {
			return serverOnly(c, args)
		}
		fmt.Fprintf(f.IO.Out, "Active workspace: %s\n", ws)
		return nil
	}
	return cmd
}
