package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Name is the server's name in the MCP handshake and in client configs.
const Name = "agentsecrets"

// Rules is what every tool description tells the model, and the server's
// instructions to the client.
const Rules = `Rules: you never see, ask for, or handle secret values, only key names (like STRIPE_KEY). ` +
	`Never put a secret value in any tool argument, and never ask the user to paste one into the chat. ` +
	"If a key is missing, ask the human to run `agentsecrets secrets set KEY` in their own terminal (they type the value there, not here). " +
	"If a domain is blocked, ask the human to run `agentsecrets workspace allowlist add DOMAIN` in their own terminal. " +
	`Responses are redacted: [REDACTED_BY_AGENTSECRETS] marks where a secret was removed.`

// Tool names.
const (
	ToolAPICall          = "api_call"
	ToolListSecrets      = "list_secrets"
	ToolStatus           = "status"
	ToolListEnvironments = "list_environments"
	ToolCheckSecret      = "check_secret"
	ToolAuditLogs        = "audit_logs"
)

// Options configure the server.
type Options struct {
	// Version is reported in the handshake; "" means "dev".
	Version string
	// Logger receives one line per api_call (method, host, outcome) and the
	// SDK's own messages; nil discards. It must not write to the protocol
	// stream.
	Logger *slog.Logger
}

// New returns an MCP server with every tool wired to b.
func New(b Backend, opts Options) *mcp.Server {
	if opts.Version == "" {
		opts.Version = "dev"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := mcp.NewServer(&mcp.Implementation{Name: Name, Title: "agentsecrets", Version: opts.Version},
		&mcp.ServerOptions{Instructions: Rules, Logger: log, Capabilities: &mcp.ServerCapabilities{}})
	s.AddReceivingMiddleware(quietArguments)
	h := &handlers{b: b, log: log}
	addTool(s, apiCallTool(), h.apiCall)
	addTool(s, readOnly(ToolListSecrets, "List secrets",
		"List the key names of the active project with their coverage across development, staging and production. Names only, never values."),
		func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, ListSecretsOutput, error) {
			out, err := b.ListSecrets(ctx)
			return nil, out, err
		})
	addTool(s, readOnly(ToolStatus, "Status",
		"Show the active workspace, project, environment, value backend and storage mode, and whether a project is set up."),
		func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, StatusOutput, error) {
			out, err := b.Status(ctx)
			return nil, out, err
		})
	addTool(s, readOnly(ToolListEnvironments, "List environments",
		"List the environments of the active project (development, staging, production) with how many keys each has and which is active."),
		func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, ListEnvironmentsOutput, error) {
			out, err := b.ListEnvironments(ctx)
			return nil, out, err
		})
	addTool(s, readOnly(ToolCheckSecret, "Check a secret",
		"Check one key by name: whether it is set in the active environment and in each other one, the domains it is bound to, and when it expires. Use it before api_call when unsure a key exists."),
		func(ctx context.Context, _ *mcp.CallToolRequest, in CheckSecretInput) (*mcp.CallToolResult, CheckSecretOutput, error) {
			out, err := b.CheckSecret(ctx, in)
			return nil, out, err
		})
	addTool(s, readOnly(ToolAuditLogs, "Audit logs",
		"Show recent audit log entries (oldest first): which agent used which key names against which URL, the decision and status, and the allowlist each call was decided by; changes of the allowlist are entries too (source allowlist). Filter by last, secret, env, agent."),
		func(ctx context.Context, _ *mcp.CallToolRequest, in AuditLogsInput) (*mcp.CallToolResult, AuditLogsOutput, error) {
			out, err := b.AuditLogs(ctx, in)
			return nil, out, err
		})
	return s
}

// reachedKey marks, in the context of a tools/call, that the arguments were
// accepted and the tool's handler ran.
type reachedKey struct{}

// addTool is mcp.AddTool with a handler that marks the call as reached.
func addTool[In, Out any](s *mcp.Server, t *mcp.Tool, h mcp.ToolHandlerFor[In, Out]) {
	mcp.AddTool(s, t, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		if reached, ok := ctx.Value(reachedKey{}).(*bool); ok {
			*reached = true
		}
		return h(ctx, req, in)
	})
}

// schemaProperty finds the argument the SDK refused in its message; property
// names come from the input schema, never from the arguments.
var schemaProperty = regexp.MustCompile(`validating /properties/([a-z_]+)`)

// quietArguments replaces the SDK's refusal of arguments that do not fit the
// input schema: it quotes the offending argument, which may be a value given
// to the model by mistake. The replacement names the argument, not its
// content.
func quietArguments(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "tools/call" {
			return next(ctx, method, req)
		}
		reached := new(bool)
		res, err := next(context.WithValue(ctx, reachedKey{}, reached), method, req)
		tr, ok := res.(*mcp.CallToolResult)
		if err != nil || !ok || tr == nil || !tr.IsError || *reached {
			return res, err
		}
		e := &Error{Code: CodeBadRequest, Message: "mcpserver: the arguments do not match the tool's input schema",
			Hint: "arguments hold key names, never values; see the input schema in tools/list"}
		if m := schemaProperty.FindStringSubmatch(ResultText(tr)); m != nil {
			e.Message = fmt.Sprintf("mcpserver: argument %q does not match the tool's input schema", m[1])
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: e.Error()}}, IsError: true}, nil
	}
}

// ResultText is the text of a tool result: its text contents, joined.
func ResultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// Serve runs a server for b over t until the client disconnects or ctx ends.
func Serve(ctx context.Context, b Backend, t mcp.Transport, opts Options) error {
	return New(b, opts).Run(ctx, t)
}

func readOnly(name, title, what string) *mcp.Tool {
	return &mcp.Tool{Name: name, Title: title, Description: what + "\n\n" + Rules,
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(false)}}
}

func apiCallTool() *mcp.Tool {
	return &mcp.Tool{
		Name:  ToolAPICall,
		Title: "Authenticated API call",
		Description: `Make one HTTP request with secrets injected by key name; you never handle the value. ` +
			`Name the keys in bearer, basic, header ("Name=KEY"), query ("param=KEY"), body_field ("path=KEY") or form_field ("field=KEY"); ` +
			`several may be combined. Custom signing policies go in policy with their params. ` +
			`The target host must be on the workspace allowlist, and a key bound to domains is only sent there. ` +
			`Returns the status, headers and body, with every echo of a secret replaced by [REDACTED_BY_AGENTSECRETS]. ` +
			`Example: {"url": "https://api.stripe.com/v1/balance", "bearer": ["STRIPE_KEY"]}.` +
			"\n\n" + Rules,
		Annotations: &mcp.ToolAnnotations{OpenWorldHint: new(true), DestructiveHint: new(true)},
	}
}

type handlers struct {
	b   Backend
	log *slog.Logger
}

func (h *handlers) apiCall(ctx context.Context, _ *mcp.CallToolRequest, in APICallInput) (*mcp.CallToolResult, APICallOutput, error) {
	method := strings.ToUpper(in.Method)
	if method == "" {
		method = http.MethodGet
	}
	out, err := h.b.APICall(ctx, in)
	if err != nil {
		code := codeOf(err)
		if code == CodeBadRequest { // the arguments may hold a value given by mistake
			h.log.Info("api_call", "error", code)
		} else {
			h.log.Info("api_call", "method", loggedMethod(method), "host", hostOf(in.URL), "error", code)
		}
		return nil, APICallOutput{}, err
	}
	h.log.Info("api_call", "method", loggedMethod(method), "host", hostOf(in.URL), "status", out.Status, "redactions", out.Redactions)
	res := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: renderResponse(out)}}}
	return res, out, nil
}

// loggedMethod is method as the log shows it: a standard method by name,
// anything else (a model may put anything there) as OTHER.
func loggedMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// renderResponse is the text form of a response: status line, headers in
// name order, a blank line and the body.
func renderResponse(out APICallOutput) string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d %s\n", out.Status, http.StatusText(out.Status))
	names := make([]string, 0, len(out.Headers))
	for k := range out.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "%s: %s\n", k, out.Headers[k])
	}
	b.WriteString("\n")
	b.WriteString(bodyText(out.Body))
	if out.Redactions > 0 {
		fmt.Fprintf(&b, "\n\n(%d secret echo(es) redacted)", out.Redactions)
	}
	return b.String()
}

// bodyText shows a string body as its text and any other value as JSON.
func bodyText(body any) string {
	if body == nil {
		return ""
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Sprintf("(body not representable: %v)", err)
	}
	var s string
	if len(data) > 0 && data[0] == '"' && json.Unmarshal(data, &s) == nil {
		return s
	}
	return string(data)
}

// hostOf names the target host for the log; never the path or query, which
// may carry anything.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid url)"
	}
	return u.Hostname()
}

func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return CodeError
}
