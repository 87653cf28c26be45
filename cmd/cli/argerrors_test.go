package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestArgumentsAreNeverEchoed: a user or an agent who types a credential
// where a command, a flag or a flag's value goes gets a usage error (exit
// 2, an error and a hint) that does not repeat what was typed, in any
// case: the agent reads stderr.
func TestArgumentsAreNeverEchoed(t *testing.T) {
	const secret = "sk-live-4f9a2b7c1d8e"
	const fragment = "4f9a2b7c1d8e" // survives any change of case or '-' to '_'
	url := []string{"--url", "https://api.example.com/v1"}
	wasmFile := filepath.Join("..", "..", "wasm", "builtin", "bearer.wasm")
	guestFile := filepath.Join("..", "..", "testdata", "guests", "handles.wasm") // opens the secret its key param names
	tests := []struct {
		args []string
		want string // in the error line
	}{
		{[]string{secret}, "unknown command (20 characters)"},
		{[]string{"--project", "p", secret}, "unknown command (20 characters)"},
		{[]string{"secrets", secret}, `unknown command (20 characters) for "agentsecrets secrets"`},
		{[]string{"agent", "token", secret}, `unknown command (20 characters) for "agentsecrets agent token"`},
		{[]string{"proxy", "status", secret}, "takes no arguments"},
		{[]string{"policy", "list", secret}, "takes no arguments"},
		{[]string{"help", secret}, "unknown help topic (20 characters)"},
		{[]string{"--" + secret}, "unknown flag (22 characters)"},
		{[]string{"secrets", "list", "--" + secret + "=x"}, "unknown flag (22 characters)"},
		{[]string{"-" + secret}, "unknown flag (21 characters)"},
		{[]string{"---" + secret}, "bad flag syntax (23 characters)"},
		{[]string{"init", "--storage-mode", secret}, "invalid value (20 characters) for --storage-mode: want a whole number"},
		{[]string{"call", "--url", "https://x.example", "--timeout", secret}, "invalid value (20 characters) for --timeout"},
		{[]string{"secrets", "list", "--json=" + secret}, "invalid value (20 characters) for --json: want true or false"},
		{append([]string{"call", "--bearer", secret}, url...), "--bearer: want KEY: invalid secret name"},
		{append([]string{"call", "--header", secret}, url...), "--header: want Header-Name=KEY: no '='"},
		{append([]string{"call", "--header", "X-Key=" + secret}, url...), "--header: want Header-Name=KEY: invalid secret name"},
		{append([]string{"call", "--body-field", secret + "|x=API_KEY"}, url...), "--body-field: want path=KEY: invalid path (30 characters)"},
		{append([]string{"call", "-H", "Authorization " + secret}, url...), "-H number 1 (34 characters): want 'Name: value'"},
		{append([]string{"call", "--policy", "x.wasm", "--param", secret}, url...), "--param: want name=value"},
		{[]string{"policy", "test", "--url", secret}, "--url is not an absolute URL"},
		{[]string{"proxy", "logs", "--source", secret}, "--source (20 characters): want one of call"},
		{[]string{"mcp", "install", "--client", secret}, "--client (20 characters): want claude, cursor or all"},
		// Not names the CLI defines, and refused: said by length and fault.
		{[]string{"secrets", "list", "--env", secret}, "unknown environment (20 characters): not development, staging or production"},
		{[]string{"environment", "switch", secret}, "unknown environment (20 characters)"},
		{[]string{"secrets", "list", "--project", "/" + secret}, "invalid project name (21 characters): it holds characters other than"},
		{[]string{"project", "create", "." + secret}, "invalid project name (21 characters): it does not start with a letter or digit"},
		{[]string{"workspace", "allowlist", "add", "https://" + secret + "/v1"}, "invalid domain (31 characters): it holds a scheme (://)"},
		{[]string{"workspace", "allowlist", "add", "u:" + secret + "@api.example.com"}, "invalid domain (38 characters): it holds user info (@)"},
		{[]string{"workspace", "allowlist", "add", "*." + secret}, "invalid domain (22 characters): a wildcard over a top-level domain"},
		{[]string{"secrets", "bind", "API_KEY", secret + ":443"}, "invalid domain (24 characters): it holds a port (:)"},
		{[]string{"secrets", "expire", "API_KEY", secret}, "invalid expiry (20 characters): not a date, an RFC 3339 time or never"},
		{[]string{"secrets", "set", "API_KEY=v", "--expires", secret}, "invalid expiry (20 characters)"},
		{[]string{"policy", "add", "ok-name", secret + ".wasm"}, "policy file (25 characters): no such file"},
		{[]string{"policy", "inspect", secret + ".wasm"}, "policy file (25 characters): no such file"},
		{[]string{"policy", "add", strings.ToUpper(secret), wasmFile}, "invalid policy name (20 characters): it holds characters other than"},
		{[]string{"env", "--", secret}, "command not found (20 characters): not in $PATH"},
		{[]string{"env", "--", "./" + secret}, "command not found (22 characters): no such file"},
		{[]string{"agent", "token", "issue", strings.ToUpper(secret)}, "invalid agent name (20 characters): it holds characters other than lower-case letters"},
		{[]string{"agent", "token", "revoke", "billing-tool", secret}, "invalid token id (20 characters): not tok_ and 12 lower-case hex digits"},
		{[]string{"project", "delete", "." + secret, "--yes"}, "invalid project name (21 characters): it does not start with a letter or digit"},
		{[]string{"project", "delete", "." + secret}, "invalid project name (21 characters)"},
		{[]string{"proxy", "start", "--bind", secret}, "--bind (20 characters): not an IP address or localhost"},
		{append([]string{"call", "--body", "@" + secret}, url...), "--body file (20 characters): no such file"},
		{[]string{"policy", "test", "--url", "https://api.example.com/v1", "--policy", guestFile, "--param", "key=" + secret},
			"the policy opened a secret by a name that is not a key name (20 characters)"},
		// A name that is not a policy name is not found (exit 6), as a
		// valid one that is not registered would not be, and not repeated.
		{[]string{"policy", "remove", strings.ToUpper(secret)}, "policies: policy not found: invalid policy name (20 characters): it holds characters other than"},
		{[]string{"policy", "inspect", strings.ToUpper(secret)}, "policies: policy not found: invalid policy name (20 characters)"},
		{append([]string{"policy", "test", "--policy", strings.ToUpper(secret)}, url...), "policies: policy not found: invalid policy name (20 characters)"},
	}
	home := filepath.Join(t.TempDir(), "home")
	getenv := func(k string) string {
		return map[string]string{"AGENTSECRETS_HOME": home, "AGENTSECRETS_BACKEND": "file",
			"AGENTSECRETS_PASSPHRASE": testPassphrase, "AGENTSECRETS_NO_TTY": "1"}[k]
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := Run(tt.args, NewIOStreams(strings.NewReader(""), &out, &errOut, getenv), getenv)
		all := strings.ToLower(out.String() + errOut.String())
		if strings.Contains(all, fragment) {
			t.Errorf("%q: the argument is echoed:\nstdout: %s\nstderr: %s", tt.args, out.String(), errOut.String())
		}
		want := ExitUsage
		switch {
		case strings.HasPrefix(tt.want, "command not found"): // env -- COMMAND: as a shell says it
			want = exitCommandAbsent
		case strings.HasPrefix(tt.want, "policies: policy not found"):
			want = ExitNotFound
		}
		if code != want || !strings.HasPrefix(errOut.String(), "agentsecrets: error: ") ||
			!strings.Contains(errOut.String(), tt.want) || !strings.Contains(errOut.String(), "\nagentsecrets: hint: ") {
			t.Errorf("%q: exit %d, stderr %q; want %d, an error with %q and a hint", tt.args, code, errOut.String(), want, tt.want)
		}
	}
}

// TestUnknownInputKeepsWhatIsPublic: the names the CLI defines are no
// secret, so a flag known elsewhere in the tree is named, and a mistyped
// command gets suggestions (command names only).
func TestUnknownInputKeepsWhatIsPublic(t *testing.T) {
	tests := []struct {
		args      []string
		wantError string
		wantHint  string
	}{
		{[]string{"se"}, "unknown command (2 characters)", "did you mean agentsecrets secrets?"},
		{[]string{"secrets", "lisst"}, `unknown command (5 characters) for "agentsecrets secrets"`, "did you mean agentsecrets secrets list?"},
		{[]string{"secrets", "xet"}, `unknown command (3 characters) for "agentsecrets secrets"`, "did you mean agentsecrets secrets get, agentsecrets secrets set?"},
		{[]string{"nosuchcommand"}, "unknown command (13 characters)", "run agentsecrets --help to see the commands"},
		{[]string{"secrets", "list", "--yes"}, "unknown flag: --yes", "agentsecrets secrets list --help"},
		{[]string{"secrets", "list", "--bogus"}, "unknown flag (7 characters)", "agentsecrets secrets list --help"},
		{[]string{"secrets", "list", "-y"}, "unknown flag: -y", "agentsecrets secrets list --help"},
		{[]string{"--project"}, "flag needs an argument: --project", "agentsecrets --help"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		getenv := func(string) string { return "" }
		code := Run(tt.args, NewIOStreams(strings.NewReader(""), &out, &errOut, getenv), getenv)
		if code != ExitUsage || !strings.Contains(errOut.String(), "error: "+tt.wantError+"\n") ||
			!strings.Contains(errOut.String(), "hint: "+tt.wantHint) {
			t.Errorf("%q: exit %d, stderr %q; want 2, error %q, hint %q", tt.args, code, errOut.String(), tt.wantError, tt.wantHint)
		}
	}
}
