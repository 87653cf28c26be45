package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/runner/mcpserver"
	"github.com/The-17/agentsecrets/runner/mcpserver/install"
	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
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
copied to <file>.bak-<time> before it changes; a missing one is created. The
file is written readable by you alone (an entry's env may hold a passphrase).
A symbolic link is followed; a link to a missing file is refused.
Running it again changes nothing ("already configured"). A file that is not
valid JSON is reported and nothing is written to any file. --print shows the
resulting file without writing (for --client all, one JSON object with each
client's path and config). With --project or --env the server is started
with them; with AGENTSECRETS_HOME set, the entry passes it on. Restart the
client afterwards.`,
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
	srv, err := mcpServerEntry(f, exe)
	if err != nil {
		return err
	}
	plans, err := planInstall(f, clients, srv)
	if err != nil {
		return err
	}
	if printOnly {
		return printPlans(f, plans)
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

// mcpServerEntry is the server entry to install: this binary with "mcp
// serve", the --project and --env given to install (checked: the server
// would fail on each start otherwise), and AGENTSECRETS_HOME when it is
// set, so the client's server opens the same vault. The passphrase of the
// file backend is never written into a client's config: a warning says
// the client must pass it.
func mcpServerEntry(f *Factory, exe string) (install.Server, error) {
	srv := install.Server{Command: exe, Args: []string{"mcp", "serve"}}
	if f.Project != "" || f.Environment != "" {
		s, ctx, err := f.storeAndContext()
		if err != nil {
			return srv, err
		}
		if _, err := s.Names(ctx); err != nil { // the project and environment exist
			return srv, err
		}
		if f.Project != "" {
			srv.Args = append(srv.Args, "--project", ctx.Project)
		}
		if f.Environment != "" {
			srv.Args = append(srv.Args, "--env", ctx.Environment)
		}
	}
	if home := f.Getenv("AGENTSECRETS_HOME"); home != "" {
		abs, err := filepath.Abs(home)
		if err != nil {
			return srv, err
		}
		srv.Env = map[string]string{"AGENTSECRETS_HOME": abs}
	}
	if s, err := f.Store(); err == nil {
		if kind, err := s.BackendKind(); err == nil && kind == keychain.KindFile {
			fmt.Fprintln(f.IO.ErrOut, "agentsecrets: warning: the vault is the encrypted file: the client must pass AGENTSECRETS_PASSPHRASE to the server (add it to the entry's \"env\" yourself, or start the client with it set); agentsecrets never writes the passphrase into a config")
		}
	}
	return srv, nil
}

// printPlans prints the resulting config files as one JSON document: the
// file itself for one client; for several, an object with each client's
// path and file.
func printPlans(f *Factory, plans []*install.Plan) error {
	if len(plans) == 1 {
		fmt.Fprintf(f.IO.ErrOut, "%s: %s\n", clientTitles[plans[0].Client], plans[0].Path)
		_, err := f.IO.Out.Write(plans[0].Result())
		return err
	}
	type printed struct {
		Path   string          `json:"path"`
		Config json.RawMessage `json:"config"`
	}
	out := map[string]printed{}
	for _, p := range plans {
		// A byte order mark (in a file left unchanged) is not JSON.
		config := bytes.TrimPrefix(p.Result(), []byte("\xef\xbb\xbf"))
		out[p.Client] = printed{Path: p.Path, Config: json.RawMessage(config)}
	}
	return f.printJSON(out)
}

func selectClients(client string) ([]string, error) {
	switch client {
	case "all":
		return install.Clients, nil
	case install.Claude, install.Cursor:
		return []string{client}, nil
	}
	return nil, usageError("agentsecrets mcp install", "--client %s: want claude, cursor or all", vault.Characters(client))
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
			hint := "fix the file (or move it aside) and rerun agentsecrets mcp install; nothing was written"
			if errors.Is(err, install.ErrOtherUser) {
				hint = "rerun it without sudo; nothing was written"
			}
			return nil, newError(ExitUsage, hint, "%v", err)
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
