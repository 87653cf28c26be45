package policies

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/hostfns"
)

func TestDryRunShowsPlaceholders(t *testing.T) {
	e := newTestEngine(t, Config{})
	u, _ := url.Parse("https://api.example.com/v1/charges?limit=3")
	req := &hostfns.Request{Method: "POST", URL: u, Header: http.Header{"Accept": {"application/json"}}, Body: []byte(`{"amount":100}`)}
	specs := []Spec{
		spec(t, "bearer", "STRIPE_KEY"), spec(t, "query", "api_key=MAPS_KEY"),
		spec(t, "body-field", "client_secret=CS"), spec(t, "basic", "LOGIN"),
	}
	res, err := e.DryRun(context.Background(), specs, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"POST https://api.example.com/v1/charges?limit=3&api_key=[SECRET:MAPS_KEY] HTTP/1.1",
		"Authorization: Basic base64([SECRET:LOGIN]:)",
		`"client_secret":"[SECRET:CS]"`,
		"Accept: application/json",
	} {
		if !strings.Contains(res.Text, want) {
			t.Errorf("dry run text lacks %q:\n%s", want, res.Text)
		}
	}
	if strings.Contains(res.Text, "asph") {
		t.Errorf("a placeholder was not revealed:\n%s", res.Text)
	}
	if req.URL.RawQuery != "limit=3" || len(req.Header) != 1 || string(req.Body) != `{"amount":100}` {
		t.Error("DryRun modified the caller's request")
	}
	if len(res.Opened) != 4 {
		t.Errorf("Opened = %v", res.Opened)
	}
}

func TestDryRunKnownNames(t *testing.T) {
	e := newTestEngine(t, Config{})
	u, _ := url.Parse("https://api.example.com/")
	_, err := e.DryRun(context.Background(), []Spec{spec(t, "bearer", "TYPO_KEY")}, &hostfns.Request{URL: u},
		func(name string) bool { return name == "STRIPE_KEY" })
	if !errors.Is(err, hostfns.ErrSecretNotFound) || !strings.Contains(err.Error(), "TYPO_KEY") {
		t.Errorf("err = %v, want not found naming TYPO_KEY", err)
	}
}

// TestDryRunRefusesNamesThatAreNotKeyNames: a custom policy opens the name
// its params give (--param key=...), where a value may be typed. As the
// vault does in a real call, the dry run refuses a name that is not a key
// name, known names or not, and neither its error nor its text repeats it.
func TestDryRunRefusesNamesThatAreNotKeyNames(t *testing.T) {
	e := newTestEngine(t, Config{})
	u, _ := url.Parse("https://api.example.com/")
	const typed = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	for _, known := range []func(string) bool{nil, func(string) bool { return false }} {
		res, err := e.DryRun(context.Background(), []Spec{{Name: guest("handles"), Params: map[string]string{"key": typed}}},
			&hostfns.Request{Method: "GET", URL: u, Header: http.Header{}}, known)
		var de *DeniedError
		if !errors.Is(err, hostfns.ErrSecretNotFound) || !errors.As(err, &de) ||
			!strings.Contains(err.Error(), "invalid key name (32 characters)") {
			t.Errorf("known=%v: err = %v, want a refusal saying the name's length", known != nil, err)
		}
		if err != nil && strings.Contains(err.Error(), typed) || strings.Contains(res.Text, typed) {
			t.Errorf("known=%v: the name is repeated: err %v, text %q", known != nil, err, res.Text)
		}
	}
}
