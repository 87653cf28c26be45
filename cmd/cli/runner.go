package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner"
)

// Engine returns the policy engine (once per process), with the compilation
// cache and the custom policy registry under the home directory.
func (f *Factory) Engine() (*policies.Engine, error) {
	if f.engine != nil {
		return f.engine, nil
	}
	s, err := f.Store()
	if err != nil {
		return nil, err
	}
	e, err := policies.NewEngine(context.Background(), policies.Config{
		CacheDir: filepath.Join(s.Home(), "cache"),
		Registry: f.Registry(s.Home()),
	})
	if err != nil {
		return nil, err
	}
	f.engine = e
	return e, nil
}

// Registry is the custom policy registry under home.
func (f *Factory) Registry(home string) *policies.Registry {
	return policies.NewRegistry(filepath.Join(home, "policies"))
}

// Runner assembles the call pipeline for the active context. cache keeps
// values in memory between calls (long-running front ends) and then also
// redacts every secret of the environment from each response.
func (f *Factory) Runner(cache bool) (*runner.Runner, *runner.StoreVault, error) {
	s, ctx, err := f.storeAndContext()
	if err != nil {
		return nil, nil, err
	}
	engine, err := f.Engine()
	if err != nil {
		return nil, nil, err
	}
	sink, err := f.Audit()
	if err != nil {
		return nil, nil, err
	}
	v := &runner.StoreVault{Store: s, Ctx: ctx, Cache: cache}
	r := runner.New(engine, v, sink)
	r.RedactAll = cache
	r.AuditFailed = func(err error) {
		fmt.Fprintf(f.IO.ErrOut, "agentsecrets: warning: the audit row of this call was not written: %v\n", err)
	}
	return r, v, nil
}

// callError turns a runner error into the CLI's error with an exit code and
// the command a human must run.
func callError(err error) error {
	var hostErr *runner.HostError
	switch {
	case errors.As(err, &hostErr) && !runner.PlainHost(hostErr.Host):
		return &Error{Code: ExitDenied, Err: err, Msg: err.Error(), Hint: runner.NotPlainHostHint}
	case errors.As(err, &hostErr) && hostErr.Key != "":
		return &Error{Code: ExitDenied, Err: err, Msg: err.Error(),
			Hint: fmt.Sprintf("%s is bound to other domains (agentsecrets secrets list); if it should go to %s, ask the human to run: agentsecrets secrets bind %s <its current domains> %s", hostErr.Key, hostErr.Host, hostErr.Key, hostErr.Host)}
	case errors.As(err, &hostErr):
		return &Error{Code: ExitDenied, Err: err, Msg: err.Error(),
			Hint: "ask the human to run: agentsecrets workspace allowlist add " + hostErr.Host}
	case errors.Is(err, runner.ErrSSRF):
		return &Error{Code: ExitDenied, Err: err, Msg: err.Error(),
			Hint: "metadata and link-local addresses are always refused; loopback and private ones need the exact host on the allowlist"}
	case errors.Is(err, runner.ErrSecretMissing):
		return &Error{Code: ExitNotFound, Err: err, Msg: err.Error(),
			Hint: fmt.Sprintf("check `agentsecrets secrets list`; ask the human to run `agentsecrets secrets set %s` in their terminal", runner.MissingKey(err))}
	case errors.Is(err, runner.ErrPolicyDenied) && exitCode(err) != ExitError:
		// A policy could not open a secret because the vault is locked
		// or its project is gone: the vault's own code and hint.
		return err
	case errors.Is(err, runner.ErrPolicyDenied):
		hint := "the policy refused the request; agentsecrets policy inspect NAME shows what it does"
		var h interface{ Hint() string } // the host's reason, e.g. a key too short to sign with
		if errors.As(err, &h) && h.Hint() != "" {
			hint = h.Hint()
		}
		return &Error{Code: ExitDenied, Err: err, Msg: err.Error(), Hint: hint}
	case errors.Is(err, runner.ErrBadRequest):
		return &Error{Code: ExitUsage, Err: err, Msg: err.Error(), Hint: "agentsecrets call --help"}
	case errors.Is(err, policies.ErrPolicyNotFound):
		return &Error{Code: ExitNotFound, Err: err, Msg: err.Error(), Hint: "agentsecrets policy list"}
	case errors.Is(err, runner.ErrTimeout):
		return &Error{Code: ExitError, Err: err, Msg: err.Error(), Hint: timeoutHint("--timeout")}
	case errors.Is(err, runner.ErrUpstream):
		return &Error{Code: ExitError, Err: err, Msg: err.Error(), Hint: "check the URL and that the server is up and speaks HTTP/1.1"}
	}
	return err
}

// timeoutHint is the hint of a call the server did not answer in time;
// longer is how the front end gives a call more time (a flag, an argument).
func timeoutHint(longer string) string {
	return "the server did not answer in time; retry, or give it longer with " + longer
}
