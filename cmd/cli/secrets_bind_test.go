package cli

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/The-17/agentsecrets/runner"
)

func TestBindingWidening(t *testing.T) {
	tests := []struct {
		name          string
		current, next []string
		want          []string
	}{
		{"unbound secret: any binding narrows", nil, []string{"api.stripe.com", "*.example.com"}, nil},
		{"same binding", []string{"api.stripe.com"}, []string{"api.stripe.com"}, nil},
		{"subset", []string{"a.example.com", "b.example.com"}, []string{"b.example.com"}, nil},
		{"host under a wildcard", []string{"*.stripe.com"}, []string{"api.stripe.com", "x.y.stripe.com"}, nil},
		{"narrower wildcard", []string{"*.stripe.com"}, []string{"*.eu.stripe.com"}, nil},
		{"same wildcard", []string{"*.stripe.com"}, []string{"*.stripe.com"}, nil},
		{"added host", []string{"api.stripe.com"}, []string{"api.stripe.com", "files.stripe.com"}, []string{"files.stripe.com"}},
		{"replaced host", []string{"api.stripe.com"}, []string{"api.github.com"}, []string{"api.github.com"}},
		{"apex is not under its wildcard", []string{"*.stripe.com"}, []string{"stripe.com"}, []string{"stripe.com"}},
		{"wildcard wider than a host", []string{"api.stripe.com"}, []string{"*.stripe.com"}, []string{"*.stripe.com"}},
		{"wider wildcard", []string{"*.eu.stripe.com"}, []string{"*.stripe.com"}, []string{"*.stripe.com"}},
		{"suffix that is not a subdomain", []string{"*.stripe.com"}, []string{"evilstripe.com", "*.evilstripe.com"},
			[]string{"evilstripe.com", "*.evilstripe.com"}},
		{"wildcard never covers an IP", []string{"*.0.0.1"}, []string{"127.0.0.1"}, []string{"127.0.0.1"}},
		{"exact IP", []string{"127.0.0.1"}, []string{"127.0.0.1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := widening(tt.current, tt.next); !slices.Equal(got, tt.want) {
				t.Errorf("widening(%q, %q) = %q, want %q", tt.current, tt.next, got, tt.want)
			}
		})
	}
}

// TestBindingCoversAgreesWithRunner: a domain the current binding covers
// matches no host the runner would refuse under that binding.
func TestBindingCoversAgreesWithRunner(t *testing.T) {
	bindings := [][]string{{"api.stripe.com"}, {"*.stripe.com"}, {"*.eu.stripe.com", "stripe.com"}, {"127.0.0.1"}}
	hosts := []string{"api.stripe.com", "stripe.com", "x.eu.stripe.com", "eu.stripe.com", "evilstripe.com", "127.0.0.1", "a.b.stripe.com"}
	domains := []string{"api.stripe.com", "*.stripe.com", "*.eu.stripe.com", "stripe.com", "*.b.stripe.com", "127.0.0.1", "evilstripe.com"}
	for _, b := range bindings {
		for _, d := range domains {
			if !bindingCovers(b, d) {
				continue
			}
			for _, h := range hosts {
				if runner.BindingAllows([]string{d}, h) && !runner.BindingAllows(b, h) {
					t.Errorf("binding %q said to cover %q, but the runner sends to %q under %q and not under %q", b, d, h, d, b)
				}
			}
		}
	}
}

func TestBindingConfirmed(t *testing.T) {
	widen := bindingChange{key: "API_KEY", current: []string{"api.stripe.com"},
		next: []string{"*.example.com", "api.stripe.com", "files.stripe.com"}, added: []string{"*.example.com", "files.stripe.com"}}
	remove := bindingChange{key: "API_KEY", current: []string{"api.stripe.com"}}
	tests := []struct {
		name   string
		answer string
		c      bindingChange
		want   bool
	}{
		{"yes", "yes", widen, true},
		{"YES with spaces", "  YES \n", widen, true},
		{"added domains in any order and case", "files.STRIPE.com *.example.com", widen, true},
		{"one added domain of two", "files.stripe.com", widen, false},
		{"the whole new binding", "*.example.com api.stripe.com files.stripe.com", widen, false},
		{"a typo", "file.stripe.com *.example.com", widen, false},
		{"empty", "", widen, false},
		{"y", "y", widen, false},
		{"not a domain", "https://files.stripe.com *.example.com", widen, false},
		{"key name for unbind", "API_KEY", remove, true},
		{"yes for unbind", "yes", remove, true},
		{"key name lower case", "api_key", remove, false},
		{"the domain for unbind", "api.stripe.com", remove, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := confirmed(tt.answer, tt.c); got != tt.want {
				t.Errorf("confirmed(%q) = %v, want %v", tt.answer, got, tt.want)
			}
		})
	}
}

func TestParseExpiry(t *testing.T) {
	tests := []struct {
		in      string
		want    string // RFC 3339 in UTC; "" for nil
		wantErr bool
	}{
		{"2027-01-31", "2027-01-31T00:00:00Z", false},
		{"2027-01-31T12:30:00+02:00", "2027-01-31T10:30:00Z", false},
		{"2027-01-31T12:30:00Z", "2027-01-31T12:30:00Z", false},
		{"never", "", false},
		{"Never", "", false},
		{"", "", true},
		{"2027-02-30", "", true},
		{"31/01/2027", "", true},
		{"2027-01-31 12:30", "", true},
		{"tomorrow", "", true},
		{"sk_live_4eC39HqLyjWDarjtT1zdp7dc", "", true},
	}
	for _, tt := range tests {
		got, err := parseExpiry(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseExpiry(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if exitCode(err) != ExitUsage || !strings.Contains(err.Error(), "invalid expiry") {
				t.Errorf("parseExpiry(%q) = %v (exit %d), want a usage error naming the expiry", tt.in, err, exitCode(err))
			}
			if e, ok := err.(*Error); ok && len(tt.in) >= 4 && strings.Contains(e.Msg+e.Hint, tt.in) {
				t.Errorf("parseExpiry(%q) = %v (hint %q): repeats the argument", tt.in, err, e.Hint)
			}
			continue
		}
		s := ""
		if got != nil {
			s = got.Format(time.RFC3339)
		}
		if s != tt.want {
			t.Errorf("parseExpiry(%q) = %q, want %q", tt.in, s, tt.want)
		}
	}
}

func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"2027-01-31", "2027-01-31T12:30:00+02:00", "never", "", "9999-12-31T23:59:59.999999999Z", "0000-01-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseExpiry(s)
		if err != nil || got == nil {
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("parseExpiry(%q) is not in UTC", s)
		}
		again, err := parseExpiry(formatExpiry(*got))
		if err != nil || again == nil || !again.Truncate(time.Second).Equal(got.Truncate(time.Second)) {
			t.Fatalf("parseExpiry(%q) = %v; its display %q reads back as %v, %v", s, got, formatExpiry(*got), again, err)
		}
	})
}

// TestBindConfirmedOnTerminal drives the widening confirmations through a
// pseudo-terminal.
func TestBindConfirmedOnTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := newSandbox(t)
	sb.mustRun("", "init")
	sb.mustRun("sk_test_123\n", "secrets", "set", "API_KEY")
	sb.mustRun("", "secrets", "bind", "API_KEY", "api.example.com")
	domainsOf := func() string {
		t.Helper()
		out := sb.mustRun("", "secrets", "list", "--json")
		var ds []string
		for _, d := range gjson.Get(out, `keys.#(name=="API_KEY").domains.development`).Array() {
			ds = append(ds, d.String())
		}
		return strings.Join(ds, " ")
	}

	code, shown := sb.runOnPTY("files.example.com", "secrets", "bind", "API_KEY", "api.example.com", "files.example.com")
	if code != 0 || !strings.Contains(shown, "About to let API_KEY in proj (development) be SENT TO domains outside its binding") ||
		!strings.Contains(shown, "  files.example.com\r\n") || !strings.Contains(shown, "Bound after:  api.example.com files.example.com") {
		t.Fatalf("widening on a terminal: exit %d\n%s", code, shown)
	}
	if got := domainsOf(); got != "api.example.com files.example.com" {
		t.Fatalf("binding after a confirmed widening = %s", got)
	}

	before := tree(t, sb.home, sb.project)
	for _, answer := range []string{"api.example.com new.example.com", "new.example.co", "no"} {
		code, shown = sb.runOnPTY(answer, "secrets", "bind", "API_KEY", "api.example.com", "new.example.com")
		if code != ExitError || !strings.Contains(shown, "confirmation did not match; nothing changed") {
			t.Fatalf("answer %q: exit %d\n%s", answer, code, shown)
		}
	}
	code, shown = sb.runOnPTY("yes please", "secrets", "unbind", "API_KEY")
	if code != ExitError || !strings.Contains(shown, "About to REMOVE the domain binding of API_KEY") ||
		!strings.Contains(shown, "ANY domain on the workspace allowlist") {
		t.Fatalf("unbind with a wrong answer: exit %d\n%s", code, shown)
	}
	if tree(t, sb.home, sb.project) != before {
		t.Fatal("a refused confirmation changed files")
	}

	code, shown = sb.runOnPTY("API_KEY", "secrets", "unbind", "API_KEY")
	if code != 0 || !strings.Contains(shown, "Removed the binding of API_KEY") {
		t.Fatalf("unbind confirmed with the key name: exit %d\n%s", code, shown)
	}
	if got := domainsOf(); got != "" {
		t.Fatalf("binding after unbind = %s, want none", got)
	}
}

// TestCallHonoursBinding: a bound secret reaches its bound host only, even
// when another host is on the allowlist; a confirmed rebinding moves it.
func TestCallHonoursBinding(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	s, _ := openStore(t, sb)
	if _, err := s.AllowlistAdd([]string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	api := newEchoServer(t)
	byIP := api.URL + "/v1/ip"
	byName := "http://localhost:" + portOf(api.URL) + "/v1/name"

	// lastAuth calls url and returns the exit code, stderr and the
	// Authorization header the API received (none: "-").
	lastAuth := func(url string) (int, string, string) {
		t.Helper()
		before, _ := api.requests()
		_, errOut, code := sb.run("", "call", "--url", url, "--bearer", "API_KEY")
		after, _ := api.requests()
		switch len(after) - len(before) {
		case 0:
			return code, errOut, "-"
		case 1:
			return code, errOut, after[len(after)-1].Header.Get("Authorization")
		}
		t.Fatalf("%s: %d requests for one call", url, len(after)-len(before))
		return 0, "", ""
	}
	want := "Bearer " + callSecret

	// Unbound: both allowlisted hosts get the credential.
	for _, url := range []string{byIP, byName} {
		if code, errOut, auth := lastAuth(url); code != 0 || auth != want {
			t.Fatalf("unbound secret to %s: exit %d, credential received %v\n%s", url, code, auth == want, errOut)
		}
	}

	sb.mustRun("", "secrets", "bind", "API_KEY", "127.0.0.1")
	if code, errOut, auth := lastAuth(byName); code != ExitDenied || auth != "-" ||
		!strings.Contains(errOut, `secret "API_KEY" is not bound to "localhost"`) {
		t.Fatalf("bound secret to another allowlisted host: exit %d, API received a request %v\n%s", code, auth != "-", errOut)
	}
	if code, errOut, auth := lastAuth(byIP); code != 0 || auth != want {
		t.Fatalf("bound secret to its host: exit %d, credential received %v\n%s", code, auth == want, errOut)
	}

	if code, shown := sb.runOnPTY("localhost", "secrets", "bind", "API_KEY", "localhost"); code != 0 {
		t.Fatalf("rebinding on a terminal: exit %d\n%s", code, shown)
	}
	if code, errOut, auth := lastAuth(byIP); code != ExitDenied || auth != "-" {
		t.Fatalf("after rebinding, old host: exit %d, API received a request %v\n%s", code, auth != "-", errOut)
	}
	if code, errOut, auth := lastAuth(byName); code != 0 || auth != want {
		t.Fatalf("after rebinding, new host: exit %d, credential received %v\n%s", code, auth == want, errOut)
	}
	noLeak(t, "everything the commands printed", sb.captured.String(), callSecret)
}
