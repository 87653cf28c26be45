package policies

import (
	"github.com/The-17/agentsecrets/vault"
	"maps"
	"strings"
	"testing"
)

func TestParseInjection(t *testing.T) {
	tests := []struct {
		style, arg string
		want       map[string]string
		err        string
	}{
		{"bearer", "STRIPE_KEY", map[string]string{"key": "STRIPE_KEY"}, ""},
		{"basic", "LOGIN_2", map[string]string{"key": "LOGIN_2"}, ""},
		{"redact", "K", map[string]string{"key": "K"}, ""},
		{"header", "X-Api-Key=OPENAI_KEY", map[string]string{"name": "X-Api-Key", "key": "OPENAI_KEY"}, ""},
		{"header", "x-lower-Case=K", map[string]string{"name": "x-lower-Case", "key": "K"}, ""},
		{"query", "api_key=MAPS_KEY", map[string]string{"param": "api_key", "key": "MAPS_KEY"}, ""},
		{"query", "Api_Key=K", map[string]string{"param": "Api_Key", "key": "K"}, ""},
		{"body-field", "auth.client_secret=CS", map[string]string{"path": "auth.client_secret", "key": "CS"}, ""},
		{"form-field", "client_secret=CS", map[string]string{"field": "client_secret", "key": "CS"}, ""},
		{"bearer", "stripe_key", nil, `invalid secret name "stripe_key"`},
		{"bearer", "", nil, "invalid secret name"},
		{"bearer", "A=B", nil, "invalid secret name"},
		{"header", "OPENAI_KEY", nil, `header injection wants Header-Name=KEY, got "OPENAI_KEY"`},
		{"header", "=K", nil, `invalid name ""`},
		{"header", "Bad Name=K", nil, `invalid name "Bad Name"`},
		{"header", "X-A=", nil, "invalid secret name"},
		// Headers the transport writes itself or drops would leave the
		// request without its credential.
		{"header", "Host=K", nil, `invalid name "Host"`},
		{"header", "content-length=K", nil, `invalid name "content-length"`},
		{"header", "Transfer-Encoding=K", nil, `invalid name "Transfer-Encoding"`},
		{"header", "Connection=K", nil, `invalid name "Connection"`},
		{"query", "a&b=K", nil, `invalid param "a&b"`},
		{"body-field", ".a=K", nil, `invalid path ".a"`},
		{"body-field", `a\.b=K`, map[string]string{"path": `a\.b`, "key": "K"}, ""},
		{"body-field", `a\*=K`, map[string]string{"path": `a\*`, "key": "K"}, ""},
		{"body-field", "items.-1=K", map[string]string{"path": "items.-1", "key": "K"}, ""},
		// A query, wildcard, modifier or pipe, which the host refuses when
		// the call runs, and an empty key are refused here.
		{"body-field", "a*=K", nil, `invalid path "a*"`},
		{"body-field", "a?=K", nil, `invalid path "a?"`},
		{"body-field", "a|b=K", nil, `invalid path "a|b"`},
		{"body-field", "items.#=K", nil, `invalid path "items.#"`},
		{"body-field", `a.#(b=="c")=K`, nil, "invalid path"},
		{"body-field", "@this=K", nil, `invalid path "@this"`},
		{"body-field", "a..b=K", nil, `invalid path "a..b"`},
		{"body-field", `a\=K`, nil, `invalid path "a\\"`},
		// KEY follows the vault's grammar for key names.
		{"bearer", "KEY_", nil, `invalid secret name "KEY_"`},
		{"bearer", "A__B", nil, `invalid secret name "A__B"`},
		{"query", "k=_A", nil, `invalid secret name "_A"`},
		{"bearer", "A_1_B2", map[string]string{"key": "A_1_B2"}, ""},
		{"cookie", "K", nil, `unknown injection style "cookie"`},
	}
	for _, tt := range tests {
		got, err := ParseInjection(tt.style, tt.arg)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseInjection(%q, %q) err = %v, want %q", tt.style, tt.arg, err, tt.err)
			}
			continue
		}
		if err != nil || got.Name != tt.style || !maps.Equal(got.Params, tt.want) {
			t.Errorf("ParseInjection(%q, %q) = %+v, %v; want %v", tt.style, tt.arg, got, err, tt.want)
		}
	}
}

func TestParseParams(t *testing.T) {
	got, err := ParseParams([]string{"key=K", "header=X-Sig", "prefix=", "x=a=b"})
	want := map[string]string{"key": "K", "header": "X-Sig", "prefix": "", "x": "a=b"}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("ParseParams = %v, %v", got, err)
	}
	for _, bad := range [][]string{{"novalue"}, {"=v"}, {"a=1", "a=2"}} {
		if _, err := ParseParams(bad); err == nil {
			t.Errorf("ParseParams(%q) accepted", bad)
		}
	}
	// A param that is not name=value may be a value typed where it goes
	// (the proxy returns this error to its caller): its length, not it.
	const typed = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	if _, err := ParseParams([]string{typed}); err == nil || strings.Contains(err.Error(), typed) ||
		!strings.Contains(err.Error(), "param (32 characters) is not name=value") {
		t.Errorf("ParseParams(%q) = %v, want its length and not it", typed, err)
	}
}

func FuzzParseInjection(f *testing.F) {
	for _, s := range []string{"bearer", "header", "query", "basic", "body-field", "form-field", "redact", "x"} {
		f.Add(s, "X-Api-Key=KEY_1")
		f.Add(s, "KEY")
	}
	f.Add("body-field", "a.b=c=D")
	f.Fuzz(func(t *testing.T, style, arg string) {
		s, err := ParseInjection(style, arg)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "policies: ") {
				t.Fatalf("error without package prefix: %v", err)
			}
			return
		}
		if s.Name != style || !vault.IsKeyName(s.Params["key"]) {
			t.Fatalf("accepted %q %q as %+v", style, arg, s)
		}
		// The name part and KEY recompose the argument.
		if inj := injections[style]; inj.nameParam != "" {
			if s.Params[inj.nameParam]+"="+s.Params["key"] != arg {
				t.Fatalf("%q split into %+v", arg, s.Params)
			}
		} else if s.Params["key"] != arg {
			t.Fatalf("%q parsed as key %q", arg, s.Params["key"])
		}
	})
}
