package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/vault"
)

func init() { register(newAgentCmd) }

func newAgentCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Agent identities and their tokens",
		Long: `An agent identity is a name in the workspace (billing-tool, ci_bot) holding
tokens. An agent sends its token to the proxy as X-AS-Agent-Token; the proxy
checks it and records the token's id (token:tok_...) in the audit log. A
revoked token is refused with 401 agent_token_invalid once the proxy has
re-read the vault (agentsecrets proxy sync, or a restart).

A token is shown once, when it is issued: the vault keeps only its SHA-256.`,
		Example: `  agentsecrets agent token issue billing-tool
  agentsecrets agent list
  agentsecrets agent token list billing-tool
  agentsecrets agent token revoke billing-tool tok_0123456789ab
  agentsecrets agent delete billing-tool --yes`,
	}
	cmd.AddCommand(newAgentListCmd(f), newAgentDeleteCmd(f), newAgentTokenCmd(f))
	return cmd
}

// agentError gives the agent errors of the vault the not-found exit code.
func agentError(err error) error {
	if errors.Is(err, vault.ErrAgentNotFound) || errors.Is(err, vault.ErrTokenUnknown) {
		return &Error{Code: ExitNotFound, Err: err}
	}
	return err
}

// proxySyncNote tells that a running proxy sees a revocation after a sync.
const proxySyncNote = "A running proxy refuses it after: agentsecrets proxy sync"

func newAgentListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list [--json]",
		Short:   "List the agent identities of the active workspace",
		Example: "  agentsecrets agent list\n  agentsecrets agent list --json",
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
			agents, err := s.Agents()
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(map[string]any{"workspace": ws, "agents": agents})
			}
			if len(agents) == 0 {
				fmt.Fprintf(f.IO.Out, "No agents in workspace %q. Create one by issuing it a token: agentsecrets agent token issue NAME\n", ws)
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tACTIVE TOKENS\tREVOKED TOKENS\tCREATED")
			for _, a := range agents {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", a.Name, a.Active, a.Revoked, localTime(a.Created))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAgentDeleteCmd(f *Factory) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME [--yes]",
		Short: "Delete an agent identity and revoke all its tokens",
		Long: `Delete an agent identity and every token it holds. Asks for confirmation on
the terminal; --yes confirms for scripts. A running proxy refuses the tokens
after agentsecrets proxy sync.`,
		Example: "  agentsecrets agent delete billing-tool\n  agentsecrets agent delete billing-tool --yes",
		Args:    exactArgs(1, "an agent NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			if err := vault.ValidateAgentName(name); err != nil {
				return err
			}
			s, err := f.Store()
			if err != nil {
				return err
			}
			tokens, err := s.Tokens(name)
			if err != nil {
				return agentError(err)
			}
			active := activeTokens(tokens)
			q := fmt.Sprintf("Delete agent %q and revoke its %s?", name, plural(active, "active token"))
			if err := f.confirm(c, args, yes, q); err != nil {
				return err
			}
			if err := s.DeleteAgent(name); err != nil {
				return agentError(err)
			}
			fmt.Fprintf(f.IO.Out, "Deleted agent %q (%s revoked)\n", name, plural(active, "token"))
			if active > 0 {
				fmt.Fprintln(f.IO.Out, proxySyncNote)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func activeTokens(tokens []vault.TokenInfo) int {
	n := 0
	for _, t := range tokens {
		if t.Revoked == nil {
			n++
		}
	}
	return n
}

func newAgentTokenCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Issue, list and revoke an agent's tokens",
		Example: `  agentsecrets agent token issue billing-tool
  agentsecrets agent token list billing-tool --json
  agentsecrets agent token revoke billing-tool tok_0123456789ab`,
	}
	cmd.AddCommand(newAgentTokenIssueCmd(f), newAgentTokenListCmd(f), newAgentTokenRevokeCmd(f))
	return cmd
}

// issuedJSON is the --json form of an issued token: the one output that
// holds the token.
type issuedJSON struct {
	Agent   string    `json:"agent"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Token   string    `json:"token"`
}

func newAgentTokenIssueCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "issue NAME [--json]",
		Short: "Issue a token for an agent (created if new); the token is shown only now",
		Long: `Issue a new token for the agent, creating the agent if it does not exist.
The token is printed on stdout once and kept nowhere: the vault stores its
SHA-256 only, so it cannot be shown again (issue another and revoke this one
if it is lost). Notes go to stderr, so the token can be captured alone.

The agent sends it to the proxy as X-AS-Agent-Token.`,
		Example: `  agentsecrets agent token issue billing-tool
  agentsecrets agent token issue billing-tool --json
  TOKEN=$(agentsecrets agent token issue billing-tool)`,
		Args: exactArgs(1, "an agent NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := vault.ValidateAgentName(args[0]); err != nil {
				return err
			}
			s, err := f.Store()
			if err != nil {
				return err
			}
			tok, err := s.IssueToken(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(issuedJSON{Agent: tok.Agent, ID: tok.ID, Created: tok.Created, Token: string(tok.Token.Bytes())})
			}
			fmt.Fprintf(f.IO.Out, "%s\n", tok.Token.Bytes())
			fmt.Fprintf(f.IO.ErrOut, "Issued token %s for agent %q. It is shown only now and stored nowhere; the agent sends it as X-AS-Agent-Token.\n", tok.ID, tok.Agent)
			fmt.Fprintf(f.IO.ErrOut, "Revoke it with: agentsecrets agent token revoke %s %s\n", tok.Agent, tok.ID)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (agent, id, created, token)")
	return cmd
}

func newAgentTokenListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list NAME [--json]",
		Short:   "List an agent's tokens: ids, creation and revocation times (never the tokens)",
		Example: "  agentsecrets agent token list billing-tool\n  agentsecrets agent token list billing-tool --json",
		Args:    exactArgs(1, "an agent NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := vault.ValidateAgentName(args[0]); err != nil {
				return err
			}
			s, err := f.Store()
			if err != nil {
				return err
			}
			tokens, err := s.Tokens(args[0])
			if err != nil {
				return agentError(err)
			}
			if asJSON {
				return f.printJSON(map[string]any{"agent": args[0], "tokens": tokens})
			}
			if len(tokens) == 0 {
				fmt.Fprintf(f.IO.Out, "Agent %q has no tokens. Issue one: agentsecrets agent token issue %s\n", args[0], args[0])
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCREATED\tSTATUS")
			for _, t := range tokens {
				status := "active"
				if t.Revoked != nil {
					status = "revoked " + localTime(*t.Revoked)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, localTime(t.Created), status)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAgentTokenRevokeCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME ID",
		Short: "Revoke one of an agent's tokens by id",
		Long: `Revoke a token by its id (see agentsecrets agent token list NAME). Revoking
a revoked token changes nothing. A running proxy refuses the token after
agentsecrets proxy sync (or a restart).`,
		Example: "  agentsecrets agent token revoke billing-tool tok_0123456789ab\n  agentsecrets proxy sync",
		Args:    exactArgs(2, "an agent NAME and a token ID"),
		RunE: func(_ *cobra.Command, args []string) error {
			name, id := args[0], args[1]
			if err := vault.ValidateAgentName(name); err != nil {
				return err
			}
			if err := vault.ValidateTokenID(id); err != nil {
				// The hint names this agent, so it can be typed as is.
				return &Error{Code: ExitUsage, Err: err, Msg: err.Error(), Hint: "agentsecrets agent token list " + name}
			}
			s, err := f.Store()
			if err != nil {
				return err
			}
			was, err := s.RevokeToken(name, id)
			if err != nil {
				return agentError(err)
			}
			if was {
				fmt.Fprintf(f.IO.Out, "Token %s of agent %q was already revoked\n", id, name)
				return nil
			}
			fmt.Fprintf(f.IO.Out, "Revoked token %s of agent %q\n%s\n", id, name, proxySyncNote)
			return nil
		},
	}
}

// localTime formats a time for a table.
func localTime(t time.Time) string { return t.Local().Format(time.DateTime) }
