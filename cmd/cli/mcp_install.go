package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/runner/mcpserver"
	"github.com/The-17/agentsecrets/runner/mcpserver/install"
)

func newMCPInstallCmd(f *Factory) *cobra.Command {
	var client string
	var printOnly bool
	cmd := &cobra.Command{
		Use:   "install [--client claude|cursor|all] [--print]",
		Short: "Add agentsecrets to Claude Desktop's and Cursor's MCP config",
		Long: `Add an "agentsecrets" entry to the mcpServers of the clients' config files,
running this binary (its absolute path, symbolic links resolved) with
"mcp serve":

  Claude Desktop  macOS    ~/Library/Application Support/Claude/claude_desktop_config.json
                  Windows  %APPDATA%\Claude\claude_desktop_config.json
                  Linux    ~/.config/Claude/claude_desktop_config.json
  Cursor          ~/.cursor/mcp.json

Every other server and setting in the files is kept. An existing file is
copied to <file>.bak-<time> before it changes; a missing one is created.
Running it again changes nothing ("already configured"). A file that is not
valid JSON is reported and nothing is written to any file. --print shows the
resulting files without writing. Restart the client afterwards.`,
		Example: `  agentsecrets mcp install
  agentsecrets mcp install --client claude
  agentsecrets mcp install --client cursor --print`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error { return runMCPInstall(f, client, printOnly) },
	}
	cmd.Flags().StringVar(&client, "client", "all", "claude, cursor or all")
	cmd.Flags().BoolVar(&printOnly, "print", false, "print the resulting config instead of writing it")
	return cmd
}

var clientTitles = map[string]string{install.Claude: "Claude Desktop", install.Cursor: "Cursor"}

func runMCPInstall(f *Factory, client string, printOnly bool) error {
	clients, err := selectClients(client)
	if err != nil {
		return err
	}
	exe, err := executablePath()
	if err != nil {
		return err
	}
	if inTempDir(exe) {
		fmt.Fprintf(f.IO.ErrOut, "agentsecrets: warning: %s is in a temporary directory; install the binary for good and rerun agentsecrets mcp install\n", exe)
	}
	srv := install.Server{Command: exe, Args: []string{"mcp", "serve"}}
	plans, err := planInstall(f, clients, srv)
	if err != nil {
		return err
	}
	if printOnly {
		for _, p := range plans {
			fmt.Fprintf(f.IO.ErrOut, "%s: %s\n", clientTitles[p.Client], p.Path)
			if _, err := f.IO.Out.Write(p.Result()); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range plans {
		backup, err := p.Apply(time.Now())
		if err != nil {
			return err
		}
		title := clientTitles[p.Client]
		switch {
		case !p.Changed:
			fmt.Fprintf(f.IO.Out, "%s: already configured in %s\n", title, p.Path)
		case backup != "":
			fmt.Fprintf(f.IO.Out, "%s: added agentsecrets to %s (previous file kept as %s)\n", title, p.Path, backup)
		default:
			fmt.Fprintf(f.IO.Out, "%s: created %s\n", title, p.Path)
		}
	}
	fmt.Fprintln(f.IO.Out, "Restart the client to load the agentsecrets tools.")
	return nil
}

func selectClients(client string) ([]string, error) {
	switch client {
	case "all":
		return install.Clients, nil
	case install.Claude, install.Cursor:
		return []string{client}, nil
	}
	return nil, usageError("agentsecrets mcp install", "--client %q: want claude, cursor or all", client)
}

// planInstall reads and merges every client's file before anything is
// written, so one malformed file leaves all of them untouched.
func planInstall(f *Factory, clients []string, srv install.Server) ([]*install.Plan, error) {
	env := install.Env{Getenv: f.Getenv}
	var plans []*install.Plan
	for _, c := range clients {
		path, err := install.ConfigPath(c, env)
		if err != nil {
			return nil, err
		}
		p, err := install.Prepare(c, path, mcpserver.Name, srv)
		if err != nil {
			return nil, newError(ExitUsage, "fix the file (or move it aside) and rerun agentsecrets mcp install; nothing was written",
				"%v", err)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// executablePath is this binary's absolute path with symbolic links
// resolved, as clients must start it.
func executablePath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find this binary's path: %v", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Abs(exe)
}

func inTempDir(path string) bool {
	tmp, err := filepath.EvalSymlinks(os.TempDir())
	if err != nil {
		tmp = os.TempDir()
	}
	rel, err := filepath.Rel(tmp, path)
	return err == nil && !strings.HasPrefix(rel, "..")
}
