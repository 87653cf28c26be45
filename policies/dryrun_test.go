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
