package proxy

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/policies"
)

func spec(name string, params ...string) policies.Spec {
	p := map[string]string{}
	for i := 0; i+1 < len(params); i += 2 {
		p[params[i]] = params[i+1]
	}
	return policies.Spec{Name: name, Params: p}
}

// header builds an http.Header the way Go's server does: canonical names.
func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestParseHeaders(t *testing.T) {
	const target = "https://api.example.com/v1"
	tests := []struct {
		name   string
		h      http.Header
		method string
		agent  string
		specs  []policies.Spec
	}{
		{"default method and agent", header("X-AS-Target-URL", target), "POST", "anonymous", nil},
		{"method override", header("X-AS-Target-URL", target, "X-AS-Method", "patch"), "PATCH", "anonymous", nil},
		{"bearer", header("X-AS-Target-URL", target, "X-AS-Inject-Bearer", "STRIPE_KEY"), "POST", "anonymous",
			[]policies.Spec{spec("bearer", "key", "STRIPE_KEY")}},
		{"seed query lower-cased", header("X-AS-Target-URL", target, "X-AS-Inject-Query-API_KEY", "K"), "POST", "anonymous",
			[]policies.Spec{spec("query", "param", "api_key", "key", "K")}},
		{"seed header canonical", header("X-AS-Target-URL", target, "x-as-inject-header-x-api-key", "K"), "POST", "anonymous",
			[]policies.Spec{spec("header", "name", "X-Api-Key", "key", "K")}},
		{"case kept", header("X-AS-Target-URL", target, "X-AS-Inject-Body", "user.apiToken=K", "X-AS-Inject-Form", "clientId=K2"), "POST", "anonymous",
			[]policies.Spec{spec("body-field", "path", "user.apiToken", "key", "K"), spec("form-field", "field", "clientId", "key", "K2")}},
		{"styles in fixed order", header("X-AS-Target-URL", target, "X-AS-Inject-Query", "q=Q", "X-AS-Inject-Basic", "B", "X-AS-Inject-Bearer", "A"), "POST", "anonymous",
			[]policies.Spec{spec("bearer", "key", "A"), spec("basic", "key", "B"), spec("query", "param", "q", "key", "Q")}},
		{"custom policy with params", header("X-AS-Target-URL", target, "X-AS-Policy", "hmac-sign", "X-AS-Param", "key=SIGNING_KEY, headerName=X-Sig", "X-AS-Param-Alg", "sha256"), "POST", "anonymous",
			[]policies.Spec{spec("hmac-sign", "key", "SIGNING_KEY", "headerName", "X-Sig", "alg", "sha256")}},
		{"agent id", header("X-AS-Target-URL", target, "X-AS-Agent-ID", "billing-tool"), "POST", "billing-tool", nil},
		{"agent token wins", header("X-AS-Target-URL", target, "X-AS-Agent-ID", "billing-tool", "X-AS-Agent-Token", "secret-agent-token"), "POST", AgentTokenID("secret-agent-token"), nil},
		{"session token ignored", header("X-AS-Target-URL", target, "X-AS-Session-Token", "abc"), "POST", "anonymous", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseHeaders(tc.h, "POST")
			if err != nil {
				t.Fatal(err)
			}
			if p.TargetURL != target || p.Method != tc.method || p.Agent != tc.agent {
				t.Errorf("got %q %q %q", p.TargetURL, p.Method, p.Agent)
			}
			if !reflect.DeepEqual(p.Policies, tc.specs) {
				t.Errorf("policies %v, want %v", p.Policies, tc.specs)
			}
		})
	}
}

func TestParseHeadersErrors(t *testing.T) {
	const target = "https://api.example.com/"
	tests := []struct {
		name    string
		h       http.Header
		missing bool
		mention string
	}{
		{"no target", header("X-AS-Inject-Bearer", "K"), true, "X-AS-Target-URL"},
		{"empty target", header("X-AS-Target-URL", " "), false, "X-As-Target-Url"},
		{"two targets", header("X-AS-Target-URL", target, "X-AS-Target-URL", target), false, "X-As-Target-Url"},
		{"unknown X-AS header", header("X-AS-Target-URL", target, "X-AS-Foo", "1"), false, "X-As-Foo"},
		{"header name not a token", http.Header{HeaderTargetURL: {target}, "X-AS-Inject Bearer": {"K"}}, false, "X-AS-Inject Bearer"},
		{"misspelt injection", header("X-AS-Target-URL", target, "X-AS-Inject-Baerer", "K"), false, "X-As-Inject-Baerer"},
		{"bearer with suffix", header("X-AS-Target-URL", target, "X-AS-Inject-Bearer-X", "K"), false, "X-As-Inject-Bearer-X"},
		{"seed with empty suffix", header("X-AS-Target-URL", target, "X-AS-Inject-Query-", "K"), false, "X-As-Inject-Query-"},
		{"bad key", header("X-AS-Target-URL", target, "X-AS-Inject-Bearer", "stripe key"), false, "invalid secret name"},
		{"= in a param name", header("X-AS-Target-URL", target, "X-AS-Inject-Query", "a=b=K"), false, "invalid param"},
		{"no =", header("X-AS-Target-URL", target, "X-AS-Inject-Query", "K"), false, "param=KEY"},
		{"empty item", header("X-AS-Target-URL", target, "X-AS-Inject-Query", "a=K,,b=K"), false, "empty item"},
		{"bad method", header("X-AS-Target-URL", target, "X-AS-Method", "GET /x"), false, "X-AS-Method"},
		{"timeout not a duration", header("X-AS-Target-URL", target, "X-AS-Timeout", "90"), false, "X-AS-Timeout"},
		{"timeout zero", header("X-AS-Target-URL", target, "X-AS-Timeout", "0s"), false, "X-AS-Timeout"},
		{"timeout over an hour", header("X-AS-Target-URL", target, "X-AS-Timeout", "2h"), false, "X-AS-Timeout"},
		{"timeout twice", header("X-AS-Target-URL", target, "X-AS-Timeout", "5s", "X-AS-Timeout", "6s"), false, "X-As-Timeout"},
		{"agent id with control", header("X-AS-Target-URL", target, "X-AS-Agent-ID", "a\x01b"), false, "X-AS-Agent-ID"},
		{"agent id spoofing a token", header("X-AS-Target-URL", target, "X-AS-Agent-ID", "token:deadbeef"), false, "X-AS-Agent-ID"},
		{"param without policy", header("X-AS-Target-URL", target, "X-AS-Param", "k=v"), false, "no X-AS-Policy"},
		{"policy path", header("X-AS-Target-URL", target, "X-AS-Policy", "./x.wasm"), false, "registered policy name"},
		{"param twice", header("X-AS-Target-URL", target, "X-AS-Policy", "p", "X-AS-Param", "k=1,k=2"), false, "given twice"},
		{"too many injections", header("X-AS-Target-URL", target, "X-AS-Inject-Bearer", strings.Repeat("K,", 70)+"K"), false, "too many"},
		{"underscores for hyphens", header("X-AS-Target-URL", target, "X_AS_Inject_Bearer", "K"), false, "looks like an X-AS-* header"},
		{"one underscore", header("X-AS-Target-URL", target, "x-as_agent-token", "t"), false, "looks like an X-AS-* header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHeaders(tc.h, "GET")
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, errMissingTarget) != tc.missing || !errors.Is(err, errMissingTarget) && !errors.Is(err, errBadHeader) {
				t.Errorf("error class: %v", err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestAgentTokenID(t *testing.T) {
	id := AgentTokenID("my-agent-token")
	if !strings.HasPrefix(id, "token:") || len(id) != len("token:")+8 || strings.Contains(id, "my-agent-token") {
		t.Errorf("AgentTokenID = %q", id)
	}
	if id == AgentTokenID("my-agent-token2") {
		t.Error("two tokens share an id")
	}
}

func TestUpstreamHeader(t *testing.T) {
	in := header("X-AS-Target-URL", "u", "X-AS-Inject-Bearer", "K", "Authorization", "Bearer session-token",
		"Connection", "keep-alive, X-Private", "X-Private", "1", "Keep-Alive", "timeout=5",
		"Te", "trailers", "Accept-Encoding", "br", "Content-Length", "3", "Accept", "text/plain", "X-Keep", "yes")
	kept := in.Clone()
	out := upstreamHeader(in, "session-token")
	want := header("Accept", "text/plain", "X-Keep", "yes")
	if !reflect.DeepEqual(out, want) {
		t.Errorf("got %v, want %v", out, want)
	}
	if got := upstreamHeader(kept, "another-token").Get("Authorization"); got != "Bearer session-token" {
		t.Errorf("Authorization %q, want kept", got)
	}
}

func TestLoopbackHost(t *testing.T) {
	tests := map[string]bool{
		"localhost": true, "localhost:8765": true, "LOCALHOST:1": true, "127.0.0.1": true,
		"127.0.0.1:8765": true, "[::1]": true, "[::1]:8765": true,
		"": false, "127.0.0.2:8765": false, "localhost.attacker.example": false, "attacker.example:8765": false,
		"0.0.0.0:8765": false, "[::ffff:127.0.0.1]:80": false, "127.0.0.1.nip.io": false, "192.168.1.2:8765": false,
	}
	for host, want := range tests {
		if got := LoopbackHost(host); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestCheckBind(t *testing.T) {
	tests := []struct {
		bind        string
		allowRemote bool
		remote      bool
		err         error
	}{
		{"127.0.0.1", false, false, nil},
		{"::1", false, false, nil},
		{"localhost", false, false, nil},
		{"127.0.0.5", false, false, nil},
		{"0.0.0.0", false, true, ErrRemoteBind},
		{"192.168.1.10", false, true, ErrRemoteBind},
		{"0.0.0.0", true, true, nil},
		{"example.com", true, false, errors.New("not an IP")},
	}
	for _, tc := range tests {
		remote, err := CheckBind(tc.bind, tc.allowRemote)
		if remote != tc.remote || (err == nil) != (tc.err == nil) || tc.err == ErrRemoteBind && !errors.Is(err, ErrRemoteBind) {
			t.Errorf("CheckBind(%q, %v) = %v, %v", tc.bind, tc.allowRemote, remote, err)
		}
	}
}

// FuzzParseHeaders: any header set either parses into a chain of valid
// specs with a target, or fails with one of the two classified errors; it
// never panics.
func FuzzParseHeaders(f *testing.F) {
	f.Add("X-AS-Inject-Bearer", "STRIPE_KEY", "X-AS-Inject-Query", "apiKey=K, b=K2", "GET")
	f.Add("X-AS-Inject-Query-api_key", "K", "X-AS-Policy", "hmac", "POST")
	f.Add("X-AS-Param-Alg", "sha256", "X-AS-Policy", "p,q", "post")
	f.Add("X-AS-Inject-Body", "a.b=K", "X-AS-Agent-Token", "t", "PUT")
	f.Add("X-AS-Inject-", "=", "X-AS-Method", "", "")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, method string) {
		h := http.Header{}
		h.Add(http.CanonicalHeaderKey(n1), v1)
		h.Add(http.CanonicalHeaderKey(n2), v2)
		h.Set(HeaderTargetURL, "https://api.example.com/")
		p, err := ParseHeaders(h, method)
		if err != nil {
			if !errors.Is(err, errBadHeader) && !errors.Is(err, errMissingTarget) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if p.TargetURL == "" || p.Agent == "" {
			t.Fatalf("parsed without target or agent: %+v", p)
		}
		for _, s := range p.Policies {
			if s.Name == "" || strings.ContainsAny(s.Name, "/.") {
				t.Fatalf("bad policy name %q", s.Name)
			}
			if k, ok := s.Params["key"]; ok && k == "" {
				t.Fatalf("empty key in %v", s)
			}
		}
		if strings.HasPrefix(p.Agent, "token:") && (len(p.Agent) != 14 || strings.Contains(p.Agent, v1) && v1 != "" && len(v1) > 8 || strings.Contains(p.Agent, v2) && len(v2) > 8) {
			t.Fatalf("agent token leaked into %q", p.Agent)
		}
	})
}
