package cli

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
	"github.com/The-17/agentsecrets/vault/openclaw"
)

// execDeadline is how long exec reads values before it answers with what it
// has; OpenClaw kills the provider after 5 s by default.
const execDeadline = 4 * time.Second

// execBackendTimeout bounds each keychain call, so that a keychain that never
// answers costs one timeout (later ids fail at once) well inside the deadline.
const execBackendTimeout = 2 * time.Second

// execAuditTimeout bounds recording the outcomes in the audit log.
const execAuditTimeout = time.Second

// execAnswerBy is when exec must be done, audit included, counted from its
// start: inside OpenClaw's 5 s, with room to write the answer and exit.
const execAnswerBy = 4500 * time.Millisecond

// execAuditDeadline is when the audit started at now must end: after
// execAuditTimeout, or at execAnswerBy if that comes first.
func execAuditDeadline(now, start time.Time) time.Time {
	if end := start.Add(execAnswerBy); end.Before(now.Add(execAuditTimeout)) {
		return end
	}
	return now.Add(execAuditTimeout)
}

// isOpenClawProvider matches OpenClaw's pattern for provider aliases,
// ^[a-z][a-z0-9_-]{0,63}$, written out: compiled at start-up, the
// pattern cost every command ~730 allocations and ~60 page faults.
func isOpenClawProvider(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func init() { register(newExecCmd) }

func newExecCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exec",
		Short: "Answer OpenClaw's exec secrets provider requests (protocol version 1)",
		Long: `exec is OpenClaw's exec secrets provider. It reads one request from stdin,
{"protocolVersion":1,"provider":"agentsecrets","ids":["OPENAI_KEY"]}, and writes
{"protocolVersion":1,"values":{...},"errors":{...}} to stdout, every id under
values or errors, and exits 0.

Ids are KEY (active project and environment), ENV/KEY (active project) or
PROJECT/ENV/KEY. The active project and environment come from the global
config (agentsecrets project use, environment switch) unless a project.json is
found from the working directory; --project and --env override both.

Only a request that is unusable as a whole (empty, malformed JSON, not protocol
version 1, no ids array, larger than 5 MiB), or unusable flags, give a one-line
error on stderr, nothing on stdout and exit status 2. exec never prompts: the file backend's
passphrase must be in AGENTSECRETS_PASSPHRASE. Every resolution is recorded in
the audit log by key name.`,
		Example: `  echo '{"protocolVersion":1,"provider":"agentsecrets","ids":["OPENAI_KEY"]}' | agentsecrets exec
  agentsecrets exec --project myapp --env production < request.json`,
		Args: oneLineArgs(f, exactArgs(0, "no arguments (the request comes on stdin)")),
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			if err := emptyContextFlag(c); err != nil {
				return f.oneLineUsageError(err)
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			return f.runExec(c.Context())
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return f.oneLineUsageError(usageError(c.CommandPath(), "%s", flagErrorText(c, err)))
	})
	return cmd
}

// oneLineArgs reports what args refuses on one line, as every exec usage
// error.
func oneLineArgs(f *Factory, args cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, a []string) error {
		if err := args(c, a); err != nil {
			return f.oneLineUsageError(err)
		}
		return nil
	}
}

func (f *Factory) runExec(ctx context.Context) error {
	start := time.Now()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, execDeadline)
	defer cancel()
	if err := f.checkContextFlags(); err != nil { // a provider config that can never work
		return f.oneLineUsageError(err)
	}
	req, err := openclaw.ReadRequest(f.IO.In)
	if err != nil {
		return &Error{Code: ExitUsage, Msg: err.Error(), Err: err}
	}
	resp := f.resolveExec(ctx, req, start)
	addExecHints(resp, f.Getenv, runtime.GOOS)
	_, err = resp.WriteTo(f.IO.Out)
	return err
}

// oneLineUsageError prints err on one line of stderr, its hint inside it,
// as exec reports every unusable request, and exits 2.
func (f *Factory) oneLineUsageError(err error) error {
	msg := err.Error()
	if h := hintOf(err); h != "" {
		msg += " (" + h + ")"
	}
	fmt.Fprintf(f.IO.ErrOut, "agentsecrets: error: %s\n", msg)
	return &silentError{code: ExitUsage}
}

// checkContextFlags checks the spelling of --project and --env (whether
// they exist is the vault's to say, per id).
func (f *Factory) checkContextFlags() error {
	if f.Project != "" {
		if err := vault.ValidateProjectName(f.Project); err != nil {
			return err
		}
	}
	if f.Environment != "" {
		return vault.ValidateEnvironment(f.Environment)
	}
	return nil
}

// resolveExec answers req; whatever goes wrong past parsing is reported per
// id.
func (f *Factory) resolveExec(ctx context.Context, req openclaw.Request, start time.Time) openclaw.Response {
	s, err := vault.Open(vault.Options{Getenv: f.Getenv, Project: f.Project, Environment: f.Environment,
		Passphrase: f.envPassphrase, Warn: f.IO.ErrOut, BackendTimeout: execBackendTimeout})
	if err != nil {
		return failAll(req, openclaw.CodeError, err)
	}
	f.store = s
	defer f.CloseAudit()
	r := &openclaw.Resolver{Vault: s, Audit: f.execAuditor(start)}
	if r.Base, r.BaseErr = s.Context(); r.BaseErr != nil {
		ws, err := s.Workspace()
		if err != nil {
			return failAll(req, openclaw.CodeError, err)
		}
		r.Base = vault.Context{Workspace: ws}
	}
	return r.Resolve(ctx, req)
}

// envPassphrase is $AGENTSECRETS_PASSPHRASE; exec never asks a terminal.
func (f *Factory) envPassphrase() ([]byte, error) {
	if p := f.Getenv("AGENTSECRETS_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	return nil, keychain.ErrNoPassphrase
}

// execAuditor records each group of outcomes as one audit row.
func (f *Factory) execAuditor(start time.Time) openclaw.Auditor {
	return func(_ context.Context, provider string, outcomes []openclaw.Outcome) error {
		if len(outcomes) == 0 {
			return nil
		}
		sink, err := f.Audit()
		if err != nil {
			return err
		}
		agent := "openclaw"
		if isOpenClawProvider(provider) {
			agent += ":" + provider
		}
		ctx, cancel := context.WithDeadline(context.Background(), execAuditDeadline(time.Now(), start))
		defer cancel()
		for _, o := range outcomes {
			e := audit.Event{Source: audit.SourceExec, Agent: agent, Workspace: o.Workspace, Project: o.Project,
				Environment: o.Environment, Keys: o.Keys, Duration: time.Since(start), Decision: audit.DecisionOK}
			if o.Code != "" {
				e.Decision, e.Reason = audit.DecisionError, o.Code
			}
			if err := sink.Record(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}
}

// failAll gives every id of req the same error.
func failAll(req openclaw.Request, code string, err error) openclaw.Response {
	resp := openclaw.Response{Errors: map[string]openclaw.IDError{}}
	for _, id := range req.IDs {
		resp.Errors[id] = openclaw.IDError{Code: code, Message: err.Error()}
	}
	return resp
}

// addExecHints tells, in the messages OpenClaw logs, what the provider
// configuration lacks on goos.
func addExecHints(resp openclaw.Response, getenv func(string) string, goos string) {
	for id, e := range resp.Errors {
		switch {
		case e.Code == openclaw.CodeLocked && getenv("AGENTSECRETS_PASSPHRASE") == "":
			e.Message += "; add AGENTSECRETS_PASSPHRASE to the provider's passEnv"
		case e.Code == openclaw.CodeUnavailable && goos != "darwin" && goos != "windows" &&
			getenv("DBUS_SESSION_BUS_ADDRESS") == "": // the Secret Service's bus
			e.Message += "; add DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR to the provider's passEnv"
		default:
			continue
		}
		resp.Errors[id] = e
	}
}
