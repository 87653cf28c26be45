package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/internal/httpsyntax"
	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner"
	"github.com/The-17/agentsecrets/vault"
)

func init() { register(newCallCmd) }

// callOptions are the flags of `call`; also used by the MCP api_call tool.
type callOptions struct {
	URL, Method string
	Bearer      []string
	Basic       []string
	Header      []string
	Query       []string
	BodyField   []string
	FormField   []string
	Body        string
	Plain       []string // -H 'Name: value'
	Policy      []string
	Param       []string
	JSON        bool
	Timeout     time.Duration
	Agent       string
	RedactAll   bool
}

func newCallCmd(f *Factory) *cobra.Command {
	o := &callOptions{}
	cmd := &cobra.Command{
		Use:   "call --url URL [--bearer KEY | --header Name=KEY | ...]",
		Short: "Make an authenticated HTTP call; secrets are injected, never shown",
		Long: `Make one HTTP request with secrets injected by name. The value never reaches
the caller: a WebAssembly policy splices it in at the last moment, and every
echo of it in the response (raw, base64, hex, URL- or JSON-escaped) is replaced
with [REDACTED_BY_AGENTSECRETS].

The target host must be on the workspace allowlist (agentsecrets workspace
allowlist list). The response body is printed to stdout and the status line to
stderr, like curl -s; --json prints status, headers and body as one object.

Exit codes: 0 ok (2xx/3xx), 3 the server answered 4xx/5xx, 5 denied (domain
not allowlisted, secret not bound, address refused), 6 a secret is missing,
2 bad usage, 1 anything else.`,
		Example: `  agentsecrets call --url https://api.stripe.com/v1/balance --bearer STRIPE_KEY
  agentsecrets call --url https://api.sendgrid.com/v3/mail/send --method POST \
      --header X-Api-Key=SENDGRID_KEY -H 'Content-Type: application/json' --body @mail.json
  agentsecrets call --url 'https://maps.googleapis.com/maps/api/geocode/json?address=Lagos' \
      --query key=GOOGLE_MAPS_KEY
  agentsecrets call --url https://auth.example.com/token --method POST \
      --body-field client_secret=CLIENT_SECRET --json
  agentsecrets call --url https://api.example.com/hook --method POST --body @event.json \
      --policy ./hmac.wasm --param key=WEBHOOK_SECRET`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			// Arguments are not quoted back: one may hold a value.
			if strings.Contains(args[0], "://") { // the URL without its flag
				return usageError(c.CommandPath(), "the URL goes after --url: agentsecrets call --url URL …")
			}
			return usageError(c.CommandPath(), "call takes flags only (got %d argument(s))", len(args))
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if o.Timeout <= 0 { // 0 or less would quietly mean the default
				return usageError(c.CommandPath(), "--timeout %s must be positive", o.Timeout)
			}
			return runCall(c.Context(), f, o)
		},
	}
	addRequestFlags(cmd, o)
	fl := cmd.Flags()
	fl.BoolVar(&o.JSON, "json", false, "print {status, headers, body, redactions} as one JSON object")
	fl.DurationVar(&o.Timeout, "timeout", runner.DefaultTimeout, "give up after this long")
	fl.BoolVar(&o.RedactAll, "redact-all", false, "also redact every secret of the active environment from the response, not only those the call used")
	fl.StringVar(&o.Agent, "agent", "", "agent identity recorded in the audit log (default $AGENTSECRETS_AGENT_ID or anonymous)")
	return cmd
}

// addRequestFlags registers the flags that describe a request and its
// injections, shared by call and policy test.
func addRequestFlags(cmd *cobra.Command, o *callOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.URL, "url", "", "target URL (required)")
	fl.StringVarP(&o.Method, "method", "X", "GET", "HTTP method")
	fl.StringArrayVar(&o.Bearer, "bearer", nil, "send KEY as Authorization: Bearer (repeatable)")
	fl.StringArrayVar(&o.Basic, "basic", nil, "send KEY (stored as user:password) as Basic auth")
	fl.StringArrayVar(&o.Header, "header", nil, "send KEY in header Name: --header Name=KEY (repeatable)")
	fl.StringArrayVar(&o.Query, "query", nil, "send KEY as query parameter: --query param=KEY (repeatable)")
	fl.StringArrayVar(&o.BodyField, "body-field", nil, "set JSON body field: --body-field path=KEY (repeatable)")
	fl.StringArrayVar(&o.FormField, "form-field", nil, "set form field: --form-field field=KEY (repeatable)")
	fl.StringVar(&o.Body, "body", "", "request body: JSON text, @file, or - for stdin")
	fl.StringArrayVarP(&o.Plain, "plain-header", "H", nil, "plain (non-secret) header: -H 'Name: value' (repeatable)")
	fl.StringArrayVar(&o.Policy, "policy", nil, "custom policy: a .wasm file or a registered name (repeatable)")
	fl.StringArrayVar(&o.Param, "param", nil, "parameter for --policy: --param k=v (repeatable)")
	_ = cmd.MarkFlagRequired("url")
}

// buildCall turns the options into a runner.Call; it reads no secret.
func buildCall(f *Factory, o *callOptions) (*runner.Call, error) {
	specs, err := o.specs()
	if err != nil {
		return nil, err
	}
	header, err := parsePlainHeaders(o.Plain)
	if err != nil {
		return nil, err
	}
	body, err := readBody(f, o.Body)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 && header.Get("Content-Type") == "" && json.Valid(body) {
		header.Set("Content-Type", "application/json")
	}
	agent := o.Agent
	if agent == "" {
		agent = f.Getenv("AGENTSECRETS_AGENT_ID")
	}
	if err := vault.ValidateDeclaredAgent(agent); err != nil {
		return nil, err
	}
	return &runner.Call{Method: o.Method, URL: o.URL, Header: header, Body: body,
		Policies: specs, Agent: agent, Source: "call", Timeout: o.Timeout}, nil
}

// specs maps the injection flags to a policy chain. Built-ins run first in a
// fixed order; custom policies run last, so a signing policy sees the final
// request.
func (o *callOptions) specs() ([]policies.Spec, error) {
	var specs []policies.Spec
	for _, g := range []struct {
		style string
		args  []string
	}{
		{"bearer", o.Bearer}, {"basic", o.Basic}, {"header", o.Header},
		{"query", o.Query}, {"body-field", o.BodyField}, {"form-field", o.FormField},
	} {
		for _, arg := range g.args {
			s, err := policies.ParseInjection(g.style, arg)
			if err != nil {
				return nil, injectionError("agentsecrets call", err)
			}
			specs = append(specs, s)
		}
	}
	params, err := policies.ParseParams(o.Param)
	if err != nil {
		return nil, usageError("agentsecrets call", "--param: want name=value, each name once")
	}
	if len(o.Param) > 0 && len(o.Policy) == 0 {
		return nil, usageError("agentsecrets call", "--param is for --policy; there is no --policy")
	}
	for _, p := range o.Policy {
		specs = append(specs, policies.Spec{Name: p, Params: params})
	}
	return specs, nil
}

// parsePlainHeaders reads -H 'Name: value' flags. Errors say which -H
// (by position), never what it holds.
func parsePlainHeaders(lines []string) (http.Header, error) {
	h := http.Header{}
	for i, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || !httpsyntax.ValidHeaderName(name) {
			return nil, usageError("agentsecrets call", "-H number %d %s: want 'Name: value'", i+1, vault.Characters(line))
		}
		if !httpsyntax.ValidHeaderValue(value) {
			return nil, usageError("agentsecrets call", "-H number %d: the value holds a control character", i+1)
		}
		if strings.HasPrefix(strings.ToLower(name), "x-as-") {
			return nil, usageError("agentsecrets call", "-H number %d: X-AS-* headers are reserved", i+1)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// readBody resolves --body: literal text, @file, or - for stdin.
func readBody(f *Factory, arg string) ([]byte, error) {
	switch {
	case arg == "":
		return nil, nil
	case arg == "-":
		b, err := io.ReadAll(io.LimitReader(f.IO.In, maxBody+1))
		if err != nil {
			return nil, err
		}
		return checkBody(b)
	case strings.HasPrefix(arg, "@"):
		if why := statFault(arg[1:]); why != "" { // a file that is not there is not named
			return nil, usageError("agentsecrets call", "--body file %s: %s", vault.Characters(arg[1:]), why)
		}
		b, err := readBodyFile(arg[1:]) // bounded: the file may be a FIFO or a device
		if err != nil {
			return nil, usageError("agentsecrets call", "--body %s: %v", arg, err)
		}
		return checkBody(b)
	}
	return checkBody([]byte(arg)) // --body "$(cat .env)"
}

// checkBody refuses a body (read from a file or stdin, or given as text)
// that is too large or is the plaintext .env of storage mode 2: its values
// would leave without being named, so nothing would redact their echo.
func checkBody(b []byte) ([]byte, error) {
	if vault.IsPlaintextDotenv(b) {
		return nil, newError(ExitUsage, "name each secret the request needs with --bearer, --header, --body-field or --form-field: those are injected and their echoes redacted",
			"--body: the data is the plaintext .env of storage mode 2; it is not sent")
	}
	if len(b) > maxBody {
		return nil, usageError("agentsecrets call", "--body is larger than %d MiB", maxBody>>20)
	}
	return b, nil
}

const maxBody = 32 << 20

// readBodyFile reads at most maxBody+1 bytes of the file at path.
func readBodyFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, maxBody+1))
}

func runCall(ctx context.Context, f *Factory, o *callOptions) error {
	call, err := buildCall(f, o)
	if err != nil {
		return err
	}
	r, _, err := f.Runner(false)
	if err != nil {
		return err
	}
	r.RedactAll = o.RedactAll
	res, err := r.Do(ctx, call)
	if err != nil {
		return callError(err)
	}
	defer res.Body.Close()
	if o.JSON {
		err = writeCallJSON(f.IO.Out, res)
	} else {
		fmt.Fprintf(f.IO.ErrOut, "HTTP %d %s\n", res.Status, http.StatusText(res.Status))
		_, err = io.Copy(f.IO.Out, res.Body)
	}
	if err != nil {
		return callError(err) // a body that ended early or late: the runner's hint
	}
	if res.Status >= 400 {
		return &silentError{code: ExitHTTP}
	}
	return nil
}

// callResult is the --json shape of a call's result.
type callResult struct {
	Status     int               `json:"status"`
	Headers    map[string]string `json:"headers"`
	Body       json.RawMessage   `json:"body"`
	Redactions int               `json:"redactions"`
}

func readCallResult(res *runner.Result) (callResult, error) {
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return callResult{}, err
	}
	if len(body) > maxBody { // never a body cut short with exit 0
		return callResult{}, newError(ExitError, "leave out --json to stream the body to stdout (the status line goes to stderr)",
			"the response body is larger than %d MiB, more than --json holds", maxBody>>20)
	}
	out := callResult{Status: res.Status, Headers: map[string]string{}, Redactions: res.Redactions()}
	for k, v := range res.Header {
		out.Headers[k] = strings.Join(v, ", ")
	}
	if json.Valid(body) && len(body) > 0 {
		out.Body = body
		if res.RedactString != nil {
			// The agent reads this body decoded: scrub it decoded too.
			if v, n := redactDecodedBody(body, res.RedactString); n > 0 {
				if out.Body, err = json.Marshal(v); err != nil {
					return callResult{}, err
				}
				out.Redactions += n
			}
		}
	} else {
		out.Body, _ = json.Marshal(string(body))
	}
	return out, nil
}

func writeCallJSON(w io.Writer, res *runner.Result) error {
	out, err := readCallResult(res)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
