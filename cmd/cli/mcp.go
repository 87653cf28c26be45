package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner"
	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/mcpserver"
	"github.com/The-17/agentsecrets/runner/redact"
	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

func init() { register(newMCPCmd) }

func newMCPCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve agentsecrets to MCP clients (Claude Desktop, Cursor) and install it there",
		Long: `agentsecrets speaks the Model Context Protocol: an MCP client such as Claude
Desktop or Cursor starts "agentsecrets mcp serve" and its model gets tools to
make authenticated API calls and to inspect the vault by key name. Values never
reach the model: responses are redacted and no tool returns one.

"agentsecrets mcp install" adds the server to the clients' config files.`,
		Example: `  agentsecrets mcp install                 # Claude Desktop and Cursor
  agentsecrets mcp install --client cursor --print
  agentsecrets mcp serve --agent claude-desktop`,
		Args: exactArgs(0, "a subcommand: serve or install"),
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	cmd.AddCommand(newMCPServeCmd(f), newMCPInstallCmd(f))
	return cmd
}

func newMCPServeCmd(f *Factory) *cobra.Command {
	var agent string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the MCP server on stdin/stdout (started by the MCP client)",
		Long: `Run the MCP server over stdio: JSON-RPC on stdin and stdout, logs on stderr.
MCP clients start it themselves (see agentsecrets mcp install).

Tools: api_call (an HTTP request with secrets injected by name, the response
redacted), list_secrets, status, list_environments, check_secret and
audit_logs. None of them ever returns a value.

The context (project, environment) is resolved as for every command, from the
working directory's project.json or else the active project; --project and
--env pin it. Values are kept in memory while the server runs and re-read when
the vault changes. Calls are audited with source "mcp" and the agent identity
of --agent (default $AGENTSECRETS_AGENT_ID, else anonymous).`,
		Example: `  agentsecrets mcp serve
  agentsecrets mcp serve --agent claude-desktop --project api --env staging`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error { return runMCPServe(c, f, agent) },
	}
	cmd.Flags().StringVar(&agent, "agent", "", "agent identity recorded in the audit log (default $AGENTSECRETS_AGENT_ID or anonymous)")
	return cmd
}

func runMCPServe(c *cobra.Command, f *Factory, agent string) error {
	if agent == "" {
		agent = f.Getenv("AGENTSECRETS_AGENT_ID")
	}
	if err := vault.ValidateDeclaredAgent(agent); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	transport := &mcp.IOTransport{Reader: readCloser(f.IO.In), Writer: nopWriteCloser{f.IO.Out}}
	log.Info("agentsecrets mcp server on stdio", "agent", agentOrAnonymous(agent))
	if f.IO.IsStdinTTY() {
		log.Warn("stdin is a terminal: this command speaks MCP on stdin and stdout and is started by an MCP client; see agentsecrets mcp install")
	}
	err := mcpserver.Serve(ctx, newMCPBackend(f, agent), transport, mcpserver.Options{Version: version(), Logger: log})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("mcp serve: %v", err)
	}
	return nil
}

func readCloser(r io.Reader) io.ReadCloser {
	if rc, ok := r.(io.ReadCloser); ok {
		return rc
	}
	return io.NopCloser(r)
}

// nopWriteCloser keeps the process's stdout open when the session ends.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func agentOrAnonymous(agent string) string {
	if agent == "" {
		return "anonymous"
	}
	return agent
}

// mcpMaxBody bounds the response body handed to the model (some 64k
// tokens); the rest is cut and the output says so.
const mcpMaxBody = 256 << 10

// mcpMaxTimeout bounds the timeout a model may ask for.
const mcpMaxTimeout = 10 * time.Minute

// mcpBackend implements mcpserver.Backend on the call runner (cached values,
// every secret of the environment redacted), the vault index and the audit
// store.
type mcpBackend struct {
	f     *Factory
	agent string

	mu     sync.Mutex // guards everything below
	runner *runner.Runner
	vault  *runner.StoreVault
	warm   bool
	stamp  fileStamp
	index  *vault.Store // a second Store for the read-only tools
	guard  *mcpGuard    // refuseValues' compiled set
}

// mcpGuard is the set refuseValues looks for and what it was compiled
// from: a vault (a new one after a context switch, its generation counted
// from zero again), its generation (runnerFor refreshes the vault when the
// index changes) and the environment's key names.
type mcpGuard struct {
	vault *runner.StoreVault
	gen   uint64
	names []string
	set   *redact.Set
}

// fileStamp identifies a version of the vault index.
type fileStamp struct {
	mod  time.Time
	size int64
}

func newMCPBackend(f *Factory, agent string) *mcpBackend {
	return &mcpBackend{f: f, agent: agent}
}

var _ mcpserver.Backend = (*mcpBackend)(nil)

// APICall implements mcpserver.Backend.
func (b *mcpBackend) APICall(ctx context.Context, in mcpserver.APICallInput) (mcpserver.APICallOutput, error) {
	r, err := b.runnerFor()
	if err != nil {
		return mcpserver.APICallOutput{}, mcpError(err)
	}
	// First, so that no error message below can echo a value.
	if err := b.refuseValues(in); err != nil {
		return mcpserver.APICallOutput{}, err
	}
	call, err := b.buildCall(in)
	if err != nil {
		return mcpserver.APICallOutput{}, mcpError(err)
	}
	res, err := r.Do(ctx, call)
	if err != nil {
		return mcpserver.APICallOutput{}, mcpError(err)
	}
	defer res.Body.Close()
	body, cut, err := readCapped(res.Body, mcpMaxBody)
	if err != nil {
		return mcpserver.APICallOutput{}, mcpError(err)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	out, err := readCallResult(res)
	if err != nil {
		return mcpserver.APICallOutput{}, mcpError(err)
	}
	set, err := b.guardSet()
	if err != nil {
		return mcpserver.APICallOutput{}, mcpError(err)
	}
	decoded, n := redactDecodedBody(out.Body, set.RedactString)
	return mcpserver.APICallOutput{Status: out.Status, Headers: out.Headers, Body: decoded,
		Redactions: out.Redactions + n, Truncated: cut}, nil
}

// buildCall maps the tool's arguments to the call command's options. The
// body is taken as text only: never a file, never stdin (the protocol).
func (b *mcpBackend) buildCall(in mcpserver.APICallInput) (*runner.Call, error) {
	if !(in.Timeout >= 0 && in.Timeout <= mcpMaxTimeout.Seconds()) { // also NaN, and what overflows a Duration
		return nil, &mcpserver.Error{Code: mcpserver.CodeBadRequest, Message: fmt.Sprintf("timeout must be between 0 and %v seconds", mcpMaxTimeout.Seconds())}
	}
	for _, name := range in.Policy {
		if policies.IsPath(name) {
			return nil, &mcpserver.Error{Code: mcpserver.CodeBadRequest,
				Message: fmt.Sprintf("policy %q is a file path; api_call runs built-in and registered policies only", name),
				Hint:    "ask the human to register the file in their terminal: agentsecrets policy add NAME FILE.wasm, then use NAME"}
		}
	}
	o := &callOptions{URL: in.URL, Method: in.Method, Bearer: in.Bearer, Basic: in.Basic, Header: in.Header,
		Query: in.Query, BodyField: in.BodyField, FormField: in.FormField, Policy: in.Policy,
		Plain: sortedPairs(in.Headers, ": "), Param: sortedPairs(in.Params, "="),
		Timeout: time.Duration(in.Timeout * float64(time.Second)), Agent: b.agent}
	if o.Method == "" {
		o.Method = http.MethodGet
	}
	o.Method = strings.ToUpper(o.Method)
	if o.Timeout == 0 {
		o.Timeout = runner.DefaultTimeout
	}
	call, err := buildCall(b.f, o)
	if err != nil {
		return nil, err
	}
	call.Source = "mcp"
	if in.Body != "" {
		call.Body = []byte(in.Body)
		if call.Header.Get("Content-Type") == "" && json.Valid(call.Body) {
			call.Header.Set("Content-Type", "application/json")
		}
	}
	return call, nil
}

// minGuardedValue is the shortest value looked for in arguments; shorter
// ones would match ordinary text.
const minGuardedValue = 6

// refuseValues fails when an argument holds a value of the environment, in
// any form the redactor knows (raw, URL-escaped, base64, hex, JSON-escaped)
// or a long stretch of one: the model was given one by mistake and must
// name the key instead. The error names neither the value nor where it was.
func (b *mcpBackend) refuseValues(in mcpserver.APICallInput) error {
	args := []string{in.URL, in.Method, in.Body}
	for _, m := range []map[string]string{in.Headers, in.Params} {
		for k, v := range m {
			args = append(args, k, v)
		}
	}
	for _, list := range [][]string{in.Bearer, in.Basic, in.Header, in.Query, in.BodyField, in.FormField, in.Policy} {
		args = append(args, list...)
	}
	set, err := b.guardSet()
	if err != nil {
		return mcpError(err)
	}
	for _, a := range args {
		if _, n := set.RedactString(a); n > 0 {
			return &mcpserver.Error{Code: mcpserver.CodeBadRequest,
				Message: "an argument holds a secret value; values never go in tool arguments",
				Hint:    "name the key instead (bearer, header Name=KEY, query param=KEY, body_field, form_field) and tell the human the value was exposed so they can rotate it"}
		}
	}
	return nil
}

// guardSet returns the set of the environment's values refuseValues looks
// for, compiled again (about a millisecond for 20 secrets) only for another
// vault, generation or list of key names. The names are read on every call,
// as All reads them anyway: a key set by another process is refused even if
// runnerFor missed the change (a write in the same clock tick as the one
// before, of the same size).
func (b *mcpBackend) guardSet() (*redact.Set, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.vault
	gen := v.Generation()
	names, err := v.Store.Names(v.Ctx)
	if err != nil {
		return nil, err
	}
	if g := b.guard; g != nil && g.vault == v && g.gen == gen && slices.Equal(g.names, names) {
		return g.set, nil
	}
	values, err := v.All()
	if err != nil {
		return nil, err
	}
	b.guard = &mcpGuard{vault: v, gen: gen, names: names, set: newValueSet(values)}
	return b.guard.set, nil
}

func sortedPairs(m map[string]string, sep string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+sep+v)
	}
	sort.Strings(out)
	return out
}

// runnerFor returns the runner for the current context, built on first use
// and rebuilt when the context changes; cached values are dropped when the
// vault index changes (a key set or an allowlist entry added meanwhile).
func (b *mcpBackend) runnerFor() (*runner.Runner, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.f.Store()
	if err != nil {
		return nil, err
	}
	ctx, err := s.Context()
	if err != nil {
		return nil, err
	}
	if b.runner == nil || b.vault.Ctx != ctx {
		r, v, err := b.f.Runner(true)
		if err != nil {
			return nil, err
		}
		b.runner, b.vault, b.warm = r, v, false
	}
	if st := statIndex(s.Home()); st != b.stamp {
		b.vault.Refresh()
		b.stamp, b.warm = st, false
	}
	if !b.warm {
		// Open the backend and read every value once, here under the
		// lock, rather than in concurrent calls.
		if _, err := b.vault.All(); err != nil {
			return nil, err
		}
		b.warm = true
	}
	return b.runner, nil
}

func statIndex(home string) fileStamp {
	fi, err := os.Stat(filepath.Join(home, vault.IndexFile))
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime(), fi.Size()}
}

// readCapped reads at most limit bytes of the redacted body and reports
// whether more followed. A cut that falls inside the redaction marker
// drops the marker's beginning, so the model never sees half of one.
func readCapped(r io.Reader, limit int) ([]byte, bool, error) {
	body, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil || len(body) <= limit {
		return body, false, err
	}
	body = body[:limit]
	for n := min(len(redact.Replacement)-1, len(body)); n > 0; n-- {
		if bytes.HasSuffix(body, []byte(redact.Replacement[:n])) {
			body = body[:len(body)-n]
			break
		}
	}
	return body, true, nil
}

// indexStore is the Store the read-only tools use; it never opens the
// value backend.
func (b *mcpBackend) indexStore() (*vault.Store, error) {
	if b.index != nil {
		return b.index, nil
	}
	s, err := vault.Open(vault.Options{Getenv: b.f.Getenv, Project: b.f.Project, Environment: b.f.Environment})
	if err != nil {
		return nil, err
	}
	b.index = s
	return s, nil
}

// ListSecrets implements mcpserver.Backend.
func (b *mcpBackend) ListSecrets(context.Context) (mcpserver.ListSecretsOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ctx, err := b.indexContext()
	if err != nil {
		return mcpserver.ListSecretsOutput{}, err
	}
	keys, err := s.List(ctx)
	if err != nil {
		return mcpserver.ListSecretsOutput{}, mcpError(err)
	}
	out := mcpserver.ListSecretsOutput{Workspace: ctx.Workspace, Project: ctx.Project, Environment: ctx.Environment,
		Secrets: []mcpserver.SecretCoverage{}}
	for _, k := range keys {
		c := mcpserver.SecretCoverage{Name: k.Name, Environments: map[string]bool{}}
		for _, env := range vault.Environments {
			c.Environments[env] = k.Environments[env]
			if !k.Environments[env] {
				c.Missing = append(c.Missing, env)
			}
		}
		out.Secrets = append(out.Secrets, c)
	}
	return out, nil
}

func (b *mcpBackend) indexContext() (*vault.Store, vault.Context, error) {
	s, err := b.indexStore()
	if err != nil {
		return nil, vault.Context{}, mcpError(err)
	}
	ctx, err := s.Context()
	if err != nil {
		return nil, vault.Context{}, mcpError(err)
	}
	return s, ctx, nil
}

// Status implements mcpserver.Backend.
func (b *mcpBackend) Status(context.Context) (mcpserver.StatusOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.indexStore()
	if err != nil {
		return mcpserver.StatusOutput{}, mcpError(err)
	}
	st, err := s.Status()
	if err != nil {
		return mcpserver.StatusOutput{}, mcpError(err)
	}
	out := mcpserver.StatusOutput{State: stateOf(st), Workspace: st.Workspace, Project: st.Project,
		Environment: st.Environment, Backend: st.Backend, StorageMode: st.StorageMode, ProjectFile: st.ProjectFile,
		Home: st.Home, LastSync: st.LastSync, Agent: agentOrAnonymous(b.agent)}
	switch {
	case !st.Initialized:
		out.Hint = "ask the human to run `agentsecrets init --storage-mode 1` in the project's folder, in their own terminal"
	case !st.ProjectExists:
		out.Hint = "ask the human to run `agentsecrets project create " + st.Project + "` in their own terminal"
	}
	return out, nil
}

// ListEnvironments implements mcpserver.Backend.
func (b *mcpBackend) ListEnvironments(context.Context) (mcpserver.ListEnvironmentsOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ctx, err := b.indexContext()
	if err != nil {
		return mcpserver.ListEnvironmentsOutput{}, err
	}
	envs, err := s.EnvironmentSummaries(ctx)
	if err != nil {
		return mcpserver.ListEnvironmentsOutput{}, mcpError(err)
	}
	out := mcpserver.ListEnvironmentsOutput{Project: ctx.Project, Environments: []mcpserver.EnvironmentInfo{}}
	for _, e := range envs {
		out.Environments = append(out.Environments, mcpserver.EnvironmentInfo{Name: e.Name, Secrets: e.Secrets, Active: e.Active})
	}
	return out, nil
}

// CheckSecret implements mcpserver.Backend.
func (b *mcpBackend) CheckSecret(_ context.Context, in mcpserver.CheckSecretInput) (mcpserver.CheckSecretOutput, error) {
	if vault.ValidateKeyName(in.Key) != nil {
		// The argument is not echoed: it might be a value put there by mistake.
		return mcpserver.CheckSecretOutput{}, &mcpserver.Error{Code: mcpserver.CodeBadRequest,
			Message: "key must be a key name like STRIPE_KEY (letters, digits and underscores), never a value"}
	}
	b.mu.Lock()
	ctx, keys, err := b.listKeys()
	b.mu.Unlock()
	if err != nil {
		return mcpserver.CheckSecretOutput{}, err
	}
	var found vault.KeyStatus
	for _, k := range keys {
		if k.Name == in.Key {
			found = k
		}
	}
	if found.Name == "" {
		// A name no environment has may be a value that looks like one
		// (an AWS access key id): it is neither echoed nor put in a hint
		// that would have the human store it as a name.
		if err := b.refuseValueAs(in.Key, "key"); err != nil {
			return mcpserver.CheckSecretOutput{}, err
		}
	}
	out := mcpserver.CheckSecretOutput{Key: in.Key, Environment: ctx.Environment, Environments: map[string]bool{}}
	now := time.Now()
	for _, env := range vault.Environments {
		out.Environments[env] = found.Environments[env]
		if d := found.Domains[env]; len(d) > 0 {
			if out.Domains == nil {
				out.Domains = map[string][]string{}
			}
			out.Domains[env] = d
		}
		if exp, ok := found.Expires[env]; ok {
			if out.Expires == nil {
				out.Expires = map[string]string{}
			}
			out.Expires[env] = exp.UTC().Format(time.RFC3339)
			if !exp.After(now) {
				out.Expired = append(out.Expired, env)
			}
		}
	}
	out.Exists = found.Environments[ctx.Environment]
	switch {
	case !out.Exists:
		out.Hint = fmt.Sprintf("ask the human to run `agentsecrets secrets set %s --env %s` in their own terminal; never ask for the value", in.Key, ctx.Environment)
	case slices.Contains(out.Expired, ctx.Environment):
		out.Hint = fmt.Sprintf("the value has expired; ask the human to run `agentsecrets secrets set %s --env %s` in their own terminal", in.Key, ctx.Environment)
	}
	return out, nil
}

// listKeys is the key statuses of the project, read from the index; b.mu
// must be held.
func (b *mcpBackend) listKeys() (vault.Context, []vault.KeyStatus, error) {
	s, ctx, err := b.indexContext()
	if err != nil {
		return vault.Context{}, nil, err
	}
	keys, err := s.List(ctx)
	if err != nil {
		return vault.Context{}, nil, mcpError(err)
	}
	return ctx, keys, nil
}

// valueSet is the set of the environment's values (see guardSet), the
// vault opened first.
func (b *mcpBackend) valueSet() (*redact.Set, error) {
	if _, err := b.runnerFor(); err != nil {
		return nil, mcpError(err)
	}
	set, err := b.guardSet()
	if err != nil {
		return nil, mcpError(err)
	}
	return set, nil
}

// refuseValueAs fails when arg, given as what (a key name), holds a value
// of the environment. The error does not quote it.
func (b *mcpBackend) refuseValueAs(arg, what string) error {
	set, err := b.valueSet()
	if err != nil {
		return err
	}
	if _, n := set.RedactString(arg); n > 0 {
		return valueAsNameError(what)
	}
	return nil
}

func valueAsNameError(what string) error {
	return &mcpserver.Error{Code: mcpserver.CodeBadRequest,
		Message: what + " must be a key name like STRIPE_KEY (letters, digits and underscores), never a value",
		Hint:    "tell the human the value was exposed so they can rotate it"}
}

// auditQuerier is the reading side of the audit store.
type auditQuerier interface {
	Query(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

// mcpMaxEntries bounds audit_logs.
const mcpMaxEntries = 500

// AuditLogs implements mcpserver.Backend.
func (b *mcpBackend) AuditLogs(ctx context.Context, in mcpserver.AuditLogsInput) (mcpserver.AuditLogsOutput, error) {
	if in.Last < 0 {
		return mcpserver.AuditLogsOutput{}, &mcpserver.Error{Code: mcpserver.CodeBadRequest, Message: "last must not be negative"}
	}
	if in.Secret != "" && vault.ValidateKeyName(in.Secret) != nil {
		// A misspelt name would quietly match nothing; the argument is not
		// echoed: it might be a value put there by mistake.
		return mcpserver.AuditLogsOutput{}, &mcpserver.Error{Code: mcpserver.CodeBadRequest,
			Message: "secret must be a key name like STRIPE_KEY (letters, digits and underscores), never a value"}
	}
	// Rows hold what each front end was given, which may be a value
	// typed into a URL or a method: every string of a row is redacted.
	set, err := b.valueSet()
	if err != nil {
		return mcpserver.AuditLogsOutput{}, err
	}
	if _, n := set.RedactString(in.Secret); n > 0 {
		return mcpserver.AuditLogsOutput{}, valueAsNameError("secret")
	}
	last := min(in.Last, mcpMaxEntries)
	if last == 0 {
		last = 20
	}
	b.mu.Lock()
	sink, err := b.f.Audit()
	b.mu.Unlock()
	if err != nil {
		return mcpserver.AuditLogsOutput{}, mcpError(err)
	}
	a, ok := sink.(auditQuerier)
	if !ok {
		return mcpserver.AuditLogsOutput{}, &mcpserver.Error{Code: mcpserver.CodeError, Message: "the audit log cannot be queried"}
	}
	rows, err := a.Query(ctx, audit.Filter{Last: last, Secret: in.Secret, Env: in.Env, Agent: in.Agent})
	if err != nil {
		return mcpserver.AuditLogsOutput{}, mcpError(err)
	}
	out := mcpserver.AuditLogsOutput{Entries: []mcpserver.AuditEntry{}}
	for _, r := range rows {
		redactEntry(set, &r)
		out.Entries = append(out.Entries, mcpserver.AuditEntry{ID: r.ID, Time: r.Time, Source: r.Source, Agent: r.Agent,
			Environment: r.Environment, Method: r.Method, URL: r.URL, Keys: r.Keys, AuthStyles: r.AuthStyles,
			Status: r.Status, DurationMS: float64(r.Duration) / float64(time.Millisecond), Decision: string(r.Decision),
			Reason: r.Reason, Redactions: r.Redactions, AllowlistEntry: r.AllowlistEntry, AllowlistDigest: r.AllowlistDigest,
			AllowlistChange: r.AllowlistChange, AllowlistBefore: r.AllowlistBefore, AllowlistDomains: r.AllowlistDomains})
	}
	return out, nil
}

// mcpError turns an error of the runner, the vault or the call options into
// a tool error with a stable code and a hint for the human's terminal.
func mcpError(err error) error {
	var me *mcpserver.Error
	if errors.As(err, &me) {
		return me
	}
	var hostErr *runner.HostError
	e := &mcpserver.Error{Code: mcpserver.CodeError, Message: err.Error(), Hint: hintOf(callError(err))}
	switch {
	case errors.As(err, &hostErr) && hostErr.Key != "":
		e.Code = mcpserver.CodeNotBound
		e.Hint = fmt.Sprintf("%s is bound to other domains; ask the human to review its binding (agentsecrets secrets list) in their own terminal", hostErr.Key)
	case errors.As(err, &hostErr) && !runner.PlainHost(hostErr.Host):
		e.Code = mcpserver.CodeNotAllowed
		e.Hint = runner.NotPlainHostHint
	case errors.As(err, &hostErr):
		e.Code = mcpserver.CodeNotAllowed
		e.Hint = "ask the human to run `agentsecrets workspace allowlist add " + hostErr.Host + "` in their own terminal, then retry"
	case errors.Is(err, runner.ErrSecretMissing):
		e.Code = mcpserver.CodeSecretMissing
		e.Hint = "check the name with list_secrets; if it is missing, ask the human to run `agentsecrets secrets set " + runner.MissingKey(err) + "` in their own terminal (never ask for the value), then retry"
	case errors.Is(err, runner.ErrSSRF):
		e.Code = mcpserver.CodeAddressRefused
	case errors.Is(err, runner.ErrPolicyDenied):
		e.Code = mcpserver.CodePolicyDenied
	case errors.Is(err, runner.ErrTimeout):
		e.Code = mcpserver.CodeTimeout
		e.Hint = timeoutHint(fmt.Sprintf("the timeout argument (seconds, up to %v)", mcpMaxTimeout.Seconds()))
	case errors.Is(err, runner.ErrUpstream), errors.Is(err, runner.ErrUnsafeResponse):
		e.Code = mcpserver.CodeUpstream
	case errors.Is(err, vault.ErrNotInitialized), errors.Is(err, vault.ErrProjectNotFound):
		e.Code = mcpserver.CodeNotInitialized
	case errors.Is(err, keychain.ErrNoPassphrase), errors.Is(err, keychain.ErrBadPassphrase), errors.Is(err, keychain.ErrUnavailable):
		e.Code = mcpserver.CodeVaultLocked
		e.Hint = "the vault is locked: " + e.Hint
	case errors.Is(err, runner.ErrBadRequest), exitCode(err) == ExitUsage:
		e.Code = mcpserver.CodeBadRequest
		e.Hint = "api_call takes the forms of the call command's flags: bearer [KEY], header [Name=KEY], query [param=KEY], body_field [path=KEY], form_field [field=KEY], with KEY an upper-case key name"
	}
	return e
}
