package cli

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/The-17/agentsecrets/hostfns"
	"github.com/The-17/agentsecrets/internal/httpsyntax"
	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner"
	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/redact"
	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// callSecret has every character an encoding treats specially.
const callSecret = `sk_live_Ab+/=&%"\é9xYz0123456789`

// echoServer is a loopback API that records what it received and echoes
// it back; /fail answers 422.
type echoServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	s := &echoServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Clone(r.Context()))
		s.body = append(s.body, body)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		w.Header().Set("X-Request-Id", "req_123")
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
		json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"auth": r.Header.Get("Authorization"), "api_key": r.Header.Get("X-Api-Key"),
			"trace": r.Header.Get("X-Trace"), "content_type": r.Header.Get("Content-Type"),
			"body": string(body), "body_hex": hex.EncodeToString(body),
		})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *echoServer) requests() ([]*http.Request, [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...), append([][]byte(nil), s.body...)
}

// openStore opens the sandbox's vault as the human's own tools would.
func openStore(t *testing.T, sb *sandbox) (*vault.Store, vault.Context) {
	t.Helper()
	env := map[string]string{"AGENTSECRETS_HOME": sb.home, "AGENTSECRETS_BACKEND": keychain.KindFile, "AGENTSECRETS_PASSPHRASE": testPassphrase}
	s, err := vault.Open(vault.Options{Cwd: sb.project, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := s.Context()
	if err != nil {
		t.Fatal(err)
	}
	return s, ctx
}

// callSandbox is a sandbox with a project, API_KEY set from stdin and
// 127.0.0.1 on the allowlist.
func callSandbox(t *testing.T) *sandbox {
	t.Helper()
	sb := newSandbox(t)
	sb.mustRun("", "init")
	sb.mustRun(callSecret+"\n", "secrets", "set", "API_KEY")
	sb.mustRun("svc:"+callSecret+"\n", "secrets", "set", "BASIC_KEY")
	s, _ := openStore(t, sb)
	if _, err := s.AllowlistAdd([]string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	return sb
}

func noLeak(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		// The encodings computed here, independently of the redactor: with
		// only redact.Forms, a form the redactor forgot would be forgotten
		// by this check too.
		for form, enc := range encodings(s) {
			if strings.Contains(text, enc) {
				t.Errorf("%s holds the %s form of a secret", what, form)
			}
		}
		for _, f := range redact.Forms([]byte(s)) {
			if strings.Contains(text, string(f)) {
				t.Errorf("%s holds a form of a secret (%d bytes)", what, len(f))
			}
		}
		for i := 0; i+redact.PartialRun <= len(s); i++ {
			if strings.Contains(text, s[i:i+redact.PartialRun]) {
				t.Errorf("%s holds a run of a secret at offset %d", what, i)
				break
			}
		}
	}
}

// TestCallCommand runs `agentsecrets call` as a process against a loopback
// API: exit codes, output shapes, plain headers and bodies.
func TestCallCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	api := newEchoServer(t)
	bodyFile := filepath.Join(sb.project, "mail.json")
	if err := os.WriteFile(bodyFile, []byte(`{"to":"a@example.com","n":1}`), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("bearer default output", func(t *testing.T) {
		out, errOut, code := sb.run("", "call", "--url", api.URL+"/v1/balance", "--bearer", "API_KEY")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.HasPrefix(errOut, "HTTP 200 OK") {
			t.Errorf("stderr %q, want the status line", errOut)
		}
		if got := gjson.Get(out, "auth").String(); got != "Bearer "+redact.Replacement {
			t.Errorf("echoed auth = %q", got)
		}
		reqs, _ := api.requests()
		if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer "+callSecret {
			t.Error("the API did not receive the bearer credential")
		}
	})

	t.Run("json shape", func(t *testing.T) {
		out, errOut, code := sb.run("", "call", "--url", api.URL+"/v1/x?a=1", "--header", "X-Api-Key=API_KEY",
			"--query", "api_key=API_KEY", "-H", "X-Trace: t-1", "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var res struct {
			Status     int               `json:"status"`
			Headers    map[string]string `json:"headers"`
			Body       json.RawMessage   `json:"body"`
			Redactions int               `json:"redactions"`
		}
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&res); err != nil {
			t.Fatalf("--json output %q: %v", out, err)
		}
		if res.Status != 200 || res.Headers["X-Request-Id"] != "req_123" || res.Redactions < 2 {
			t.Errorf("status %d, headers %v, redactions %d", res.Status, res.Headers, res.Redactions)
		}
		if gjson.GetBytes(res.Body, "trace").String() != "t-1" {
			t.Errorf("body is not the API's JSON object: %s", res.Body)
		}
		reqs, _ := api.requests()
		last := reqs[len(reqs)-1]
		if last.Header.Get("X-Api-Key") != callSecret || last.URL.Query().Get("api_key") != callSecret || last.URL.Query().Get("a") != "1" {
			t.Error("the API did not receive the header and query credentials")
		}
		if last.Header.Get("X-Trace") != "t-1" {
			t.Error("plain -H header not sent")
		}
	})

	t.Run("http error status exits 3", func(t *testing.T) {
		out, errOut, code := sb.run("", "call", "--url", api.URL+"/fail", "--bearer", "API_KEY")
		if code != ExitHTTP {
			t.Fatalf("exit %d, want %d: %s", code, ExitHTTP, errOut)
		}
		if !strings.Contains(errOut, "HTTP 422") || !strings.Contains(out, `"path":"/fail"`) {
			t.Errorf("stdout %q stderr %q", out, errOut)
		}
		out, _, code = sb.run("", "call", "--url", api.URL+"/fail", "--bearer", "API_KEY", "--json")
		if code != ExitHTTP || gjson.Get(out, "status").Int() != 422 {
			t.Errorf("--json: exit %d, %q", code, out)
		}
	})

	t.Run("body from a file and stdin", func(t *testing.T) {
		for _, arg := range []string{"@" + bodyFile, "-"} {
			stdin := ""
			if arg == "-" {
				stdin = `{"to":"a@example.com","n":1}`
			}
			out, errOut, code := sb.run(stdin, "call", "--url", api.URL+"/v3/mail", "--method", "POST",
				"--body", arg, "--body-field", "auth.client_secret=API_KEY", "--basic", "BASIC_KEY")
			if code != 0 {
				t.Fatalf("--body %s: exit %d: %s", arg, code, errOut)
			}
			reqs, bodies := api.requests()
			last, body := reqs[len(reqs)-1], bodies[len(bodies)-1]
			if last.Method != "POST" || gjson.GetBytes(body, "to").String() != "a@example.com" ||
				gjson.GetBytes(body, "auth.client_secret").String() != callSecret {
				t.Errorf("--body %s: the API got %s %q", arg, last.Method, body)
			}
			if user, pass, ok := last.BasicAuth(); !ok || user != "svc" || pass != callSecret {
				t.Errorf("--body %s: basic auth not received", arg)
			}
			if ct := last.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if !strings.Contains(out, redact.Replacement) {
				t.Errorf("echo not redacted: %q", out)
			}
		}
	})

	t.Run("form field with a plain content type", func(t *testing.T) {
		_, errOut, code := sb.run("", "call", "--url", api.URL+"/token", "-X", "POST", "--body", "grant_type=client_credentials",
			"-H", "Content-Type: application/x-www-form-urlencoded", "--form-field", "client_secret=API_KEY")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		_, bodies := api.requests()
		form, err := url.ParseQuery(string(bodies[len(bodies)-1]))
		if err != nil || form.Get("client_secret") != callSecret || form.Get("grant_type") != "client_credentials" {
			t.Errorf("form body not as expected (%v)", err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		s, ctx := openStore(t, sb)
		if err := s.Set(ctx, "BOUND_KEY", []byte(callSecret+"-bound")); err != nil {
			t.Fatal(err)
		}
		if err := s.SetBinding(ctx, "BOUND_KEY", []string{"api.stripe.com"}); err != nil {
			t.Fatal(err)
		}
		before, _ := api.requests()
		tests := []struct {
			name string
			args []string
			code int
			want []string // in stderr
			env  []string // added to the sandbox's
		}{
			{"missing secret", []string{"--url", api.URL + "/", "--bearer", "NOPE_KEY"}, ExitNotFound,
				[]string{`"NOPE_KEY"`, "hint:", "secrets set NOPE_KEY"}, nil},
			{"vault locked", []string{"--url", api.URL + "/", "--bearer", "API_KEY"}, ExitAuth,
				[]string{"wrong passphrase", "hint: check AGENTSECRETS_PASSPHRASE"}, []string{"AGENTSECRETS_PASSPHRASE=not-the-passphrase"}},
			{"unknown policy", []string{"--url", api.URL + "/", "--policy", "no-such-policy"}, ExitNotFound,
				[]string{`"no-such-policy"`, "hint: agentsecrets policy list"}, nil},
			{"upstream down", []string{"--url", "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/", "--bearer", "API_KEY"}, ExitError,
				[]string{"connection refused", "hint: check the URL"}, nil},
			{"body not JSON", []string{"--url", api.URL + "/", "-X", "POST", "--body", "{bad", "--body-field", "a=API_KEY"}, ExitUsage,
				[]string{"the request body is not valid JSON", "hint:"}, nil},
			{"body a JSON array", []string{"--url", api.URL + "/", "-X", "POST", "--body", "[1,2]", "--body-field", "a=API_KEY"}, ExitUsage,
				[]string{`the field path "a" cannot be set`}, nil},
			{"form field in a JSON body", []string{"--url", api.URL + "/", "-X", "POST", "-H", "Content-Type: application/json", "--body", `{"a":1}`, "--form-field", "f=API_KEY"}, ExitUsage,
				[]string{"application/x-www-form-urlencoded"}, nil},
			{"host not allowlisted", []string{"--url", "http://localhost:" + portOf(api.URL) + "/", "--bearer", "API_KEY"}, ExitDenied,
				[]string{`"localhost"`, "hint: ask the human to run: agentsecrets workspace allowlist add localhost"}, nil},
			{"secret bound elsewhere", []string{"--url", api.URL + "/", "--bearer", "BOUND_KEY"}, ExitDenied,
				[]string{"BOUND_KEY", "hint:"}, nil},
			// A URL's host may hold characters a shell acts on: the hint
			// must not ask the human to paste it.
			{"host with shell characters", []string{"--url", "http://x;touch$IFS$HOME/", "--bearer", "API_KEY"}, ExitDenied,
				[]string{"hint: the host is not a plain DNS name"}, nil},
			{"bound secret, host with shell characters", []string{"--url", "http://a&&id/", "--bearer", "BOUND_KEY"}, ExitDenied,
				[]string{"hint: the host is not a plain DNS name"}, nil},
			{"metadata address", []string{"--url", "http://169.254.169.254/latest/meta-data/", "--bearer", "API_KEY"}, ExitDenied, nil, nil},
			{"header without =", []string{"--url", api.URL + "/", "--header", "NoEquals"}, ExitUsage, []string{"--header: want Header-Name=KEY: no '='", "hint:"}, nil},
			{"lower-case key", []string{"--url", api.URL + "/", "--bearer", "api_key"}, ExitUsage, []string{"invalid secret name (7 characters)", "hint: KEY is the name of a secret"}, nil},
			{"plain header without colon", []string{"--url", api.URL + "/", "-H", "X-Trace t-1"}, ExitUsage, []string{"Name: value"}, nil},
			{"reserved plain header", []string{"--url", api.URL + "/", "-H", "X-AS-Target-URL: x"}, ExitUsage, []string{"reserved"}, nil},
			// A declared identity cannot pass for a verified token nor carry
			// one into the audit log.
			{"agent id passing for a token", []string{"--url", api.URL + "/", "--bearer", "API_KEY", "--agent", "TOKEN:tok_0123456789ab"}, ExitUsage,
				[]string{"reserved for verified agent tokens"}, nil},
			{"agent id holding a token", []string{"--url", api.URL + "/", "--bearer", "API_KEY"}, ExitUsage,
				[]string{"holds an agent token"}, []string{"AGENTSECRETS_AGENT_ID=ast_" + strings.Repeat("A", 43)}},
			{"param without policy", []string{"--url", api.URL + "/", "--param", "k=v"}, ExitUsage, []string{"--policy"}, nil},
			// What failed validation is said by its length (a value may be
			// typed where it goes).
			{"not http", []string{"--url", "file:///etc/passwd", "--bearer", "API_KEY"}, ExitUsage, []string{"must be http or https: its scheme (4 characters) is neither"}, nil},
			{"body file missing", []string{"--url", api.URL + "/", "--body", "@/nonexistent/x.json"}, ExitUsage, []string{"--body file (19 characters): no such file"}, nil},
		}
		env := sb.env
		for _, tt := range tests {
			sb.env = append(slices.Clone(env), tt.env...) // the last value of a name wins
			out, errOut, code := sb.run("", append([]string{"call"}, tt.args...)...)
			sb.env = env
			if code != tt.code {
				t.Errorf("%s: exit %d, want %d\n%s", tt.name, code, tt.code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("%s: stderr %q lacks %q", tt.name, errOut, w)
				}
			}
			if out != "" {
				t.Errorf("%s: printed %q on stdout", tt.name, out)
			}
		}
		after, _ := api.requests()
		if len(after) != len(before) {
			t.Errorf("refused calls reached the API %d times", len(after)-len(before))
		}
	})

	noLeak(t, "everything the commands printed", sb.captured.String(), callSecret, "svc:"+callSecret, callSecret+"-bound")
	store, err := audit.Open(filepath.Join(sb.home, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	entries, err := store.Query(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	rows := fmt.Sprintf("%#v", entries)
	noLeak(t, "the audit store", rows, callSecret, "svc:"+callSecret, callSecret+"-bound")
	if !strings.Contains(rows, "api_key={API_KEY}") || !strings.Contains(rows, "blocked_allowlist") || !strings.Contains(rows, "denied_binding") {
		t.Errorf("audit rows lack the sanitized query or the refusals: %s", rows)
	}
}

func portOf(rawURL string) string {
	u, _ := url.Parse(rawURL)
	return u.Port()
}

// TestCallJSONBodyNotJSON: a non-JSON answer is a JSON string in --json.
func TestCallJSONBodyNotJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "token="+base64.StdEncoding.EncodeToString([]byte(r.Header.Get("Authorization")[7:]))+"\n<html>")
	}))
	defer api.Close()
	out := sb.mustRun("", "call", "--url", api.URL, "--bearer", "API_KEY", "--json")
	body := gjson.Get(out, "body")
	if body.Type != gjson.String || !strings.HasPrefix(body.String(), "token="+redact.Replacement) {
		t.Errorf("body = %s", body.Raw)
	}
	noLeak(t, "output", out, callSecret)
}

// TestCallJSONRedactsDecodedBody: an upstream that writes the credential
// with every character as a \uXXXX escape (a form the byte redactor does
// not list) hands the agent the value once it decodes --json's body; the
// body is redacted again decoded, in values and member names.
func TestCallJSONRedactsDecodedBody(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var esc strings.Builder
		for _, c := range strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") {
			fmt.Fprintf(&esc, `\u%04x`, c)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"echo":"%s","n":12345678901234567890,"list":["%s"],"%s":1}`, esc.String(), esc.String(), esc.String())
	}))
	defer api.Close()
	out := sb.mustRun("", "call", "--url", api.URL, "--bearer", "API_KEY", "--json")
	var res struct {
		Body       json.RawMessage `json:"body"`
		Redactions int             `json:"redactions"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	var decoded any
	if err := json.Unmarshal(res.Body, &decoded); err != nil {
		t.Fatal(err)
	}
	noLeak(t, "decoded body", fmt.Sprint(decoded), callSecret)
	if res.Redactions < 3 || !strings.Contains(string(res.Body), "12345678901234567890") {
		t.Errorf("redactions %d, body %s", res.Redactions, res.Body)
	}
}

// FuzzCallSpecs feeds arbitrary injection flags and plain headers to the
// flag mapping: it never panics, accepts only well-formed specs (a key
// like STRIPE_KEY; a name without '=' or separators) and rejects with a
// usage error naming the flag.
func FuzzCallSpecs(f *testing.F) {
	for _, seed := range [][2]string{
		{"X-Api-Key=API_KEY", "Content-Type: application/json"},
		{"NoEquals", "X-Trace t"},
		{"a=b=C_KEY", "X-AS-Inject: y"},
		{"=KEY", ": v"},
		{"client_secret=lower", "Name:"},
		{"X Y=KEY", "Ünï: v"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, arg, plain string) {
		for _, style := range []string{"bearer", "basic", "header", "query", "body-field", "form-field"} {
			o := &callOptions{}
			field := map[string]*[]string{"bearer": &o.Bearer, "basic": &o.Basic, "header": &o.Header,
				"query": &o.Query, "body-field": &o.BodyField, "form-field": &o.FormField}[style]
			*field = []string{arg}
			specs, err := o.specs()
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code != ExitUsage || !strings.Contains(err.Error(), "--"+style) {
					t.Fatalf("%s %q: error %v is not a usage error naming the flag", style, arg, err)
				}
				continue
			}
			if len(specs) != 1 || specs[0].Name != style {
				t.Fatalf("%s %q: specs %v", style, arg, specs)
			}
			want, err := policies.ParseInjection(style, arg)
			if err != nil || !reflect.DeepEqual(specs[0], want) {
				t.Fatalf("%s %q: %v differs from ParseInjection %v (%v)", style, arg, specs[0], want, err)
			}
			key := specs[0].Params["key"]
			if key == "" || strings.ToUpper(key) != key || strings.ContainsAny(key, "= ") {
				t.Fatalf("%s %q: accepted key %q", style, arg, key)
			}
			for p, v := range specs[0].Params {
				if p != "key" && (v == "" || strings.Contains(v, "=") && style != "body-field") {
					t.Fatalf("%s %q: accepted %s %q", style, arg, p, v)
				}
			}
		}
		h, err := parsePlainHeaders([]string{plain})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != ExitUsage {
				t.Fatalf("-H %q: %v is not a usage error", plain, err)
			}
			return
		}
		if len(h) != 1 {
			t.Fatalf("-H %q gave %d headers", plain, len(h))
		}
		for name, vs := range h {
			if !httpsyntax.ValidHeaderName(name) || strings.HasPrefix(strings.ToLower(name), "x-as-") || len(vs) != 1 {
				t.Fatalf("-H %q accepted as %q: %q", plain, name, vs)
			}
			if r := (&http.Request{Header: h}); r.Header.Get(name) != vs[0] {
				t.Fatalf("-H %q: header not retrievable", plain)
			}
			if strings.ContainsAny(vs[0], "\r\n") {
				t.Fatalf("-H %q: value carries a line break", plain)
			}
		}
	})
}

// TestCallRedactAll: --redact-all scrubs every secret of the environment,
// not only those the call opened.
func TestCallRedactAll(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	const other = "other-secret-value-0123456789"
	sb.mustRun(other+"\n", "secrets", "set", "OTHER_KEY")
	api := newEchoServer(t)
	body := `{"note":"` + other + `"}`

	out, errOut, code := sb.run("", "call", "--url", api.URL+"/x", "--bearer", "API_KEY", "--body", body)
	if code != 0 || !strings.Contains(out, other) {
		t.Fatalf("without --redact-all the unrelated value is echoed as sent: exit %d %s", code, errOut)
	}
	out, errOut, code = sb.run("", "call", "--url", api.URL+"/x", "--bearer", "API_KEY", "--body", body, "--redact-all")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	noLeak(t, "--redact-all output", out, other, callSecret)
	if !strings.Contains(out, redact.Replacement) {
		t.Errorf("nothing redacted: %s", out)
	}
}

// TestCallErrorKeepsTheHostsHint: a policy denial the host explained (a
// key too short to sign with) gets the host's hint, which names the key,
// rather than the generic one.
func TestCallErrorKeepsTheHostsHint(t *testing.T) {
	err := callError(fmt.Errorf("%w: %w", runner.ErrPolicyDenied, &hostfns.ShortKeyError{Key: "PIN"}))
	if got := hintOf(err); !strings.Contains(got, "PIN") || !strings.Contains(got, "short") {
		t.Errorf("hint %q, want the host's", got)
	}
	if got := exitCode(err); got != ExitDenied {
		t.Errorf("exit code %d, want %d", got, ExitDenied)
	}
	generic := callError(fmt.Errorf("%w: x", runner.ErrPolicyDenied))
	if got := hintOf(generic); !strings.Contains(got, "policy inspect") {
		t.Errorf("hint %q, want the generic one", got)
	}
}

// TestCallJSONOversizeBody: --json holds the body in memory up to maxBody;
// a longer body is an error with a hint, never cut short with exit 0.
func TestCallJSONOversizeBody(t *testing.T) {
	res := &runner.Result{Status: 200, Header: http.Header{},
		Body:       io.NopCloser(strings.NewReader(strings.Repeat("a", maxBody+1))),
		Redactions: func() int { return 0 }}
	var out strings.Builder
	err := writeCallJSON(&out, res)
	if err == nil {
		t.Fatalf("a body over %d MiB was cut short without an error", maxBody>>20)
	}
	if out.Len() != 0 || hintOf(err) == "" || exitCode(err) == 0 {
		t.Errorf("printed %d bytes, error %q, hint %q, exit %d", out.Len(), err, hintOf(err), exitCode(err))
	}
}

// TestCallBodyErrorHasHint: an upstream that ends the body early (the
// status line already printed) fails with the runner's hint, in both
// output modes.
func TestCallBodyErrorHasHint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "short")
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
	}))
	defer api.Close()
	for _, mode := range [][]string{nil, {"--json"}} {
		_, errOut, code := sb.run("", append([]string{"call", "--url", api.URL, "--bearer", "API_KEY"}, mode...)...)
		if code != ExitError || !strings.Contains(errOut, "agentsecrets: error: ") || !strings.Contains(errOut, "hint: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with an error and a hint", mode, code, errOut, ExitError)
		}
	}
	noLeak(t, "output", sb.captured.String(), callSecret)
}
