package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/runner/mcpserver/install"
)

const claudeFixture = `{
  "globalShortcut": "Alt+Space",
  "mcpServers": {
    "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]}
  },
  "preferences": {"theme": "dark"}
}
`

const cursorFixture = `{"mcpServers":{"github":{"url":"https://api.githubcopilot.com/mcp/","headers":{"Authorization":"Bearer ${env:GH_TOKEN}"}}},"telemetry":false}`

// installHome is a user home with the clients' config paths resolved.
type installHome struct {
	env            map[string]string
	home           string
	claude, cursor string
}

func newInstallHome(t *testing.T) *installHome {
	t.Helper()
	home := t.TempDir()
	env := map[string]string{"HOME": home, "USERPROFILE": home, "APPDATA": filepath.Join(home, "AppData", "Roaming"), "AGENTSECRETS_NO_TTY": "1"}
	h := &installHome{env: env, home: home}
	var err error
	ie := install.Env{Getenv: h.getenv}
	if h.claude, err = install.ConfigPath(install.Claude, ie); err != nil {
		t.Fatal(err)
	}
	if h.cursor, err = install.ConfigPath(install.Cursor, ie); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.claude, home) || !strings.HasPrefix(h.cursor, home) {
		t.Fatalf("config paths %s, %s are outside the test home", h.claude, h.cursor)
	}
	return h
}

func (h *installHome) getenv(k string) string { return h.env[k] }

func (h *installHome) write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (h *installHome) run(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Run(append([]string{"mcp", "install"}, args...), NewIOStreams(strings.NewReader(""), &out, &errOut, h.getenv), h.getenv)
	return code, out.String(), errOut.String()
}

func decodeJSON(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, data)
	}
	return m
}

func readJSONFile(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decodeJSON(t, data)
}

// assertMerged wants cfg to hold everything of fixture plus our entry.
func assertMerged(t *testing.T, cfg map[string]any, fixture string) {
	t.Helper()
	exe, err := executablePath()
	if err != nil {
		t.Fatal(err)
	}
	want := decodeJSON(t, []byte(fixture))
	if want["mcpServers"] == nil {
		want["mcpServers"] = map[string]any{}
	}
	want["mcpServers"].(map[string]any)["agentsecrets"] = map[string]any{"command": exe, "args": []any{"mcp", "serve"}}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config\n%v\nwant\n%v", cfg, want)
	}
	if !filepath.IsAbs(exe) {
		t.Errorf("command %q is not absolute", exe)
	}
}

func backups(t *testing.T, path string) []string {
	t.Helper()
	m, err := filepath.Glob(path + ".bak-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMCPInstallMergesKeepingEverythingElse(t *testing.T) {
	h := newInstallHome(t)
	h.write(t, h.claude, claudeFixture)
	h.write(t, h.cursor, cursorFixture)

	code, out, errOut := h.run()
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	assertMerged(t, readJSONFile(t, h.claude), claudeFixture)
	assertMerged(t, readJSONFile(t, h.cursor), cursorFixture)
	for path, fixture := range map[string]string{h.claude: claudeFixture, h.cursor: cursorFixture} {
		b := backups(t, path)
		if len(b) != 1 {
			t.Fatalf("%s: %d backups, want 1", path, len(b))
		}
		if data, _ := os.ReadFile(b[0]); string(data) != fixture {
			t.Errorf("backup %s does not hold the previous file", b[0])
		}
		if !strings.Contains(out, path) {
			t.Errorf("output does not name %s:\n%s", path, out)
		}
	}

	before := tree(t, h.home)
	code, out, errOut = h.run("--client", "all")
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Count(out, "already configured") != 2 {
		t.Errorf("second run output:\n%s", out)
	}
	if tree(t, h.home) != before {
		t.Error("second run changed files")
	}
}

func TestMCPInstallCreatesMissingConfig(t *testing.T) {
	h := newInstallHome(t)
	code, out, errOut := h.run("--client", "cursor")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	assertMerged(t, readJSONFile(t, h.cursor), "{}")
	for path, want := range map[string]os.FileMode{h.cursor: 0o600, filepath.Dir(h.cursor): 0o700 | os.ModeDir} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeDir); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	if _, err := os.Stat(h.claude); !os.IsNotExist(err) {
		t.Error("--client cursor touched Claude Desktop's config")
	}
	if len(backups(t, h.cursor)) != 0 {
		t.Error("backup of a file that did not exist")
	}
}

func TestMCPInstallMalformedWritesNothing(t *testing.T) {
	h := newInstallHome(t)
	h.write(t, h.claude, claudeFixture)
	h.write(t, h.cursor, `{"mcpServers": {"github": {"url": "x"}},`)
	before := tree(t, h.home)
	code, out, errOut := h.run()
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitUsage, out, errOut)
	}
	if !strings.Contains(errOut, h.cursor) || !strings.Contains(errOut, "malformed") || !strings.Contains(errOut, "nothing was written") {
		t.Errorf("error does not name the file and the problem:\n%s", errOut)
	}
	if tree(t, h.home) != before {
		t.Error("a malformed config led to writes")
	}
}

func TestMCPInstallPrintWritesNothing(t *testing.T) {
	h := newInstallHome(t)
	h.write(t, h.claude, claudeFixture)
	before := tree(t, h.home)
	for _, client := range []string{"claude", "cursor"} {
		code, out, errOut := h.run("--client", client, "--print")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		fixture := claudeFixture
		if client == "cursor" {
			fixture = "{}"
		}
		assertMerged(t, decodeJSON(t, []byte(out)), fixture)
	}
	if tree(t, h.home) != before {
		t.Error("--print wrote files")
	}
}

func TestMCPInstallRejectsUnknownClient(t *testing.T) {
	h := newInstallHome(t)
	code, _, errOut := h.run("--client", "vscode")
	if code != ExitUsage || !strings.Contains(errOut, "--client (6 characters): want claude, cursor or all") || strings.Contains(errOut, "vscode") {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
}

// TestMCPInstallPrintAllIsOneDocument: --print for both clients is one
// JSON object naming each client's file, for a machine to parse.
func TestMCPInstallPrintAllIsOneDocument(t *testing.T) {
	h := newInstallHome(t)
	h.write(t, h.claude, claudeFixture)
	code, out, errOut := h.run("--print")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var doc map[string]struct {
		Path   string          `json:"path"`
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--print is not one JSON document: %v\n%s", err, out)
	}
	for client, want := range map[string]struct{ path, fixture string }{"claude": {h.claude, claudeFixture}, "cursor": {h.cursor, "{}"}} {
		got, ok := doc[client]
		if !ok || got.Path != want.path {
			t.Errorf("%s: %+v, want path %s", client, got, want.path)
			continue
		}
		assertMerged(t, decodeJSON(t, got.Config), want.fixture)
	}
}

// TestMCPInstallCarriesTheContext: the entry starts the server on the
// vault and context install was given, and a context that does not exist
// is refused before anything is written.
func TestMCPInstallCarriesTheContext(t *testing.T) {
	h := newInstallHome(t)
	vaultHome := filepath.Join(h.home, "vault-home")
	h.env["AGENTSECRETS_HOME"] = vaultHome
	before := tree(t, h.home)
	code, out, errOut := h.run("--client", "cursor", "--project", "nosuch")
	if code != ExitNotFound || !strings.Contains(errOut, `"nosuch"`) {
		t.Errorf("unknown project: exit %d\n%s%s", code, out, errOut)
	}
	if tree(t, h.home) != before {
		t.Error("a refused install wrote files")
	}
	code, out, errOut = h.run("--client", "cursor", "--env", "qa")
	if code != ExitUsage {
		t.Errorf("unknown environment: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = h.run("--client", "cursor")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	entry := readJSONFile(t, h.cursor)["mcpServers"].(map[string]any)["agentsecrets"].(map[string]any)
	env, _ := entry["env"].(map[string]any)
	if env["AGENTSECRETS_HOME"] != vaultHome {
		t.Errorf("entry env %v, want AGENTSECRETS_HOME=%s", entry["env"], vaultHome)
	}
	if code, _, _ := h.run("--client", "cursor"); code != 0 {
		t.Errorf("rerun: exit %d", code)
	}
	if b := backups(t, h.cursor); len(b) != 0 {
		t.Errorf("a rerun with the same entry wrote a backup: %v", b)
	}
}

// TestMCPInstallPrintAllKeepsByteOrderMark: a config saved with a byte
// order mark and already holding the entry is printed by --print for every
// client as one JSON document, not a JSON encoding error.
func TestMCPInstallPrintAllKeepsByteOrderMark(t *testing.T) {
	h := newInstallHome(t)
	exe, err := executablePath()
	if err != nil {
		t.Fatal(err)
	}
	h.write(t, h.cursor, "\xef\xbb\xbf"+`{"mcpServers":{"agentsecrets":{"command":`+string(mustJSON(t, exe))+`,"args":["mcp","serve"]}}}`)
	code, out, errOut := h.run("--print")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var doc map[string]struct {
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--print is not one JSON document: %v\n%s", err, out)
	}
	assertMerged(t, decodeJSON(t, doc["cursor"].Config), "{}")
}

// TestMCPInstallRerunKeepsUserArgs: the README says to add "--agent",
// "claude-desktop" to the entry's args; running install again keeps it and
// changes nothing.
func TestMCPInstallRerunKeepsUserArgs(t *testing.T) {
	h := newInstallHome(t)
	exe, err := executablePath()
	if err != nil {
		t.Fatal(err)
	}
	h.write(t, h.claude, `{"mcpServers":{"agentsecrets":{"command":`+string(mustJSON(t, exe))+`,"args":["mcp","serve","--agent","claude-desktop"]}}}`)
	before := tree(t, h.home)
	code, out, errOut := h.run("--client", "claude")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "already configured") || tree(t, h.home) != before {
		t.Errorf("the rerun rewrote the entry:\n%s\n%s", out, mustReadString(t, h.claude))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustReadString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
