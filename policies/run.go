package policies

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/sys"

	"github.com/The-17/agentsecrets/hostfns"
)

// Errors callers branch on.
var (
	// ErrDenied: a policy refused the request (see [DeniedError]).
	ErrDenied = errors.New("policies: request denied")
	// ErrPolicyFailed: a policy trapped, timed out or hit a limit (see
	// [FailedError]).
	ErrPolicyFailed = errors.New("policies: policy failed")
	// ErrPolicyNotFound: no built-in, registered name or file by that name.
	ErrPolicyNotFound = errors.New("policies: policy not found")
)

// DeniedError reports a policy that denied the request. When the denial
// follows a failed secret_open, Secret names the secret and Cause is the
// gate's error (wrapping hostfns.ErrSecretNotFound or ErrSecretDenied);
// when it follows a splice the request could not take, Cause says why
// (wrapping hostfns.ErrUnplaceable); when it follows an hmac_secret on too
// short a key, Cause is a *hostfns.ShortKeyError naming the key.
type DeniedError struct {
	Policy string
	Reason string
	Secret string
	Cause  error
}

func (e *DeniedError) Error() string {
	var b strings.Builder
	b.WriteString("policies: policy ")
	b.WriteString(quote(e.Policy))
	b.WriteString(" denied the request")
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap makes errors.Is match ErrDenied and the cause.
func (e *DeniedError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrDenied}
	}
	return []error{ErrDenied, e.Cause}
}

// FailedError reports a policy that trapped, timed out or hit a limit. The
// instance involved is discarded.
type FailedError struct {
	Policy string
	What   string // "timed out", "was canceled", "trapped"
	Err    error
}

func (e *FailedError) Error() string {
	msg := "policies: policy " + quote(e.Policy) + " " + e.What
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap makes errors.Is match ErrPolicyFailed (and context errors).
func (e *FailedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrPolicyFailed}
	}
	return []error{ErrPolicyFailed, e.Err}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// Run calls on_request of each policy of the chain, in order, on call.
// Each policy sees its Spec's Params. A deny stops the chain with a
// *DeniedError; a trap, timeout or limit with a *FailedError.
func (e *Engine) Run(ctx context.Context, specs []Spec, call *hostfns.Call) error {
	return e.run(ctx, specs, call, false)
}

// RunResponse calls on_response of each policy of the chain that exports
// it, after the response arrived. Errors are as for Run.
func (e *Engine) RunResponse(ctx context.Context, specs []Spec, call *hostfns.Call) error {
	return e.run(ctx, specs, call, true)
}

func (e *Engine) run(ctx context.Context, specs []Spec, call *hostfns.Call, response bool) error {
	if call == nil || call.Req == nil {
		return errors.New("policies: run without a request")
	}
	cctx := hostfns.WithCall(ctx, call)
	for i := range specs {
		if err := e.runOne(ctx, cctx, &specs[i], call, response); err != nil {
			return err
		}
	}
	return nil
}

// runOne runs one policy of the chain; cctx carries the call.
func (e *Engine) runOne(ctx, cctx context.Context, spec *Spec, call *hostfns.Call, response bool) error {
	p, err := e.acquire(ctx, spec.Name)
	if err != nil {
		return err
	}
	defer p.release()
	if response && !p.hasOnResponse {
		return nil
	}
	return e.invoke(cctx, p, spec, call, response)
}

// invoke runs one export of one pooled instance.
func (e *Engine) invoke(ctx context.Context, p *policy, spec *Spec, call *hostfns.Call, response bool) error {
	if err := ctx.Err(); err != nil {
		return &FailedError{Policy: spec.Name, What: "was not started", Err: err}
	}
	// A new instance runs its _initialize outside any invocation: the
	// host functions must not find the call there (it still carries the
	// previous policy's generation and params).
	in, err := p.get(hostfns.WithCall(ctx, nil))
	if err != nil {
		return err
	}
	fn := in.onRequest
	if response {
		fn = in.onResponse
	}
	call.Begin(spec.Params)
	expired := false
	if p.builtin {
		err = fn.CallWithStack(ctx, in.stack[:])
	} else {
		tctx, cancel := context.WithTimeout(ctx, p.timeout)
		err = fn.CallWithStack(tctx, in.stack[:])
		// A deadline that passed as the call returned may still close
		// the instance: it is not pooled then.
		expired = tctx.Err() != nil
		cancel()
	}
	if err != nil {
		in.discard()
		return failure(ctx, spec.Name, p, err)
	}
	result := int32(in.stack[0])
	if expired {
		in.discard()
	} else {
		p.put(in)
	}
	denied, reason := call.Denied()
	if result == 0 && !denied {
		return nil
	}
	d := &DeniedError{Policy: spec.Name, Reason: reason}
	if result != 0 && result != 1 {
		d.Reason = fmt.Sprintf("%s (on_request returned %d)", reason, result)
	}
	d.Secret, d.Cause = call.OpenError()
	if d.Cause == nil {
		d.Cause = call.Refusal()
	}
	return d
}

func failure(ctx context.Context, name string, p *policy, err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return &FailedError{Policy: name, What: fmt.Sprintf("timed out after %v", p.timeout), Err: context.DeadlineExceeded}
		case sys.ExitCodeContextCanceled:
			if ctx.Err() != nil {
				return &FailedError{Policy: name, What: "was canceled", Err: ctx.Err()}
			}
		}
		return &FailedError{Policy: name, What: fmt.Sprintf("exited with code %d", exit.ExitCode())}
	}
	return &FailedError{Policy: name, What: "trapped", Err: errors.New(firstLine(err.Error()))}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
