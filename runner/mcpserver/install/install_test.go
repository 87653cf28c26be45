package install_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/runner/mcpserver/install"
)

var srv = install.Server{Command: "/opt/agentsecrets/bin/agentsecrets", Args: []string{"mcp", "serve"}}

func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("result is not a JSON object: %v\n%s", err, data)
	}
	return m
}

func TestMerge(t *testing.T) {
	entry := map[string]any{"command": srv.Command, "args": []any{"mcp", "serve"}}
	tests := []struct {
		name        string
		in          string
		wantChanged bool
		want        map[string]any // whole decoded result
	}{
		{"empty file", "", true, map[string]any{"mcpServers": map[string]any{"agentsecrets": entry}}},
		{"blank file", " \n\t", true, map[string]any{"mcpServers": map[string]any{"agentsecrets": entry}}},
		{"empty object", "{}", true, map[string]any{"mcpServers": map[string]any{"agentsecrets": entry}}},
		{"null servers", `{"mcpServers": null}`, true, map[string]any{"mcpServers": map[string]any{"agentsecrets": entry}}},
		{"byte order mark", "\xef\xbb\xbf{\"theme\":\"dark\"}", true, map[string]any{"theme": "dark", "mcpServers": map[string]any{"agentsecrets": entry}}},
		{"other servers and keys kept",
			`{"globalShortcut":"Ctrl+Space","mcpServers":{"fs":{"command":"npx","args":["-y","@mcp/fs","/tmp"],"env":{"A":"1"}}},"preferences":{"x":[1,2.5e3,null,true]}}`,
			true, map[string]any{
				"globalShortcut": "Ctrl+Space", "preferences": map[string]any{"x": []any{1.0, 2500.0, nil, true}},
				"mcpServers": map[string]any{"fs": map[string]any{"command": "npx", "args": []any{"-y", "@mcp/fs", "/tmp"}, "env": map[string]any{"A": "1"}}, "agentsecrets": entry},
			}},
		{"stale entry updated, its extra fields kept",
			`{"mcpServers":{"agentsecrets":{"command":"/old/agentsecrets","args":["mcp","serve"],"env":{"AGENTSECRETS_AGENT_ID":"claude"}}}}`,
			true, map[string]any{"mcpServers": map[string]any{"agentsecrets": map[string]any{"command": srv.Command, "args": []any{"mcp", "serve"}, "env": map[string]any{"AGENTSECRETS_AGENT_ID": "claude"}}}}},
		{"entry that is not an object replaced", `{"mcpServers":{"agentsecrets":"nonsense"}}`, true,
			map[string]any{"mcpServers": map[string]any{"agentsecrets": entry}}},
		{"already configured", `{"mcpServers":{"agentsecrets":{"args":["mcp","serve"],"command":"/opt/agentsecrets/bin/agentsecrets"}}}`, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := install.Merge([]byte(tc.in), "agentsecrets", srv)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.wantChanged {
				t.Fatalf("changed = %v, want %v", changed, tc.wantChanged)
			}
			if !changed {
				if out != nil {
					t.Fatalf("unchanged merge returned content %s", out)
				}
				return
			}
			if got := decode(t, out); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
			again, changed, err := install.Merge(out, "agentsecrets", srv)
			if err != nil || changed || again != nil {
				t.Fatalf("second merge: changed=%v err=%v", changed, err)
			}
		})
	}
}

// TestMergeEnv: the variables the entry must pass are set in its "env",
// and every other variable there is kept.
func TestMergeEnv(t *testing.T) {
	withEnv := install.Server{Command: srv.Command, Args: srv.Args, Env: map[string]string{"AGENTSECRETS_HOME": "/h"}}
	tests := []struct {
		name, in string
		wantEnv  map[string]any
	}{
		{"new entry", `{}`, map[string]any{"AGENTSECRETS_HOME": "/h"}},
		{"other variables kept", `{"mcpServers":{"agentsecrets":{"command":"/opt/agentsecrets/bin/agentsecrets","args":["mcp","serve"],"env":{"AGENTSECRETS_AGENT_ID":"claude"}}}}`,
			map[string]any{"AGENTSECRETS_AGENT_ID": "claude", "AGENTSECRETS_HOME": "/h"}},
		{"stale value replaced", `{"mcpServers":{"agentsecrets":{"command":"/opt/agentsecrets/bin/agentsecrets","args":["mcp","serve"],"env":{"AGENTSECRETS_HOME":"/old"}}}}`,
			map[string]any{"AGENTSECRETS_HOME": "/h"}},
		{"env not an object replaced", `{"mcpServers":{"agentsecrets":{"command":"x","args":[],"env":"nonsense"}}}`,
			map[string]any{"AGENTSECRETS_HOME": "/h"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := install.Merge([]byte(tc.in), "agentsecrets", withEnv)
			if err != nil || !changed {
				t.Fatalf("changed=%v err=%v", changed, err)
			}
			entry := decode(t, out)["mcpServers"].(map[string]any)["agentsecrets"].(map[string]any)
			if !reflect.DeepEqual(entry["env"], tc.wantEnv) {
				t.Errorf("env %v, want %v", entry["env"], tc.wantEnv)
			}
			if _, changed, _ := install.Merge(out, "agentsecrets", withEnv); changed {
				t.Error("a second merge changed the file")
			}
		})
	}
}

func TestMergeKeepsOrderAndText(t *testing.T) {
	in := `{"zeta": 1, "mcpServers": {"b": {"command": "b"}, "a": {"command": "a <&> \u00e9"}}, "alpha": "x"}`
	out, _, err := install.Merge([]byte(in), "agentsecrets", srv)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	order := []string{`"zeta"`, `"mcpServers"`, `"b"`, `"a"`, `"agentsecrets"`, `"alpha"`}
	last := -1
	for _, k := range order {
		i := strings.Index(s, k)
		if i <= last {
			t.Fatalf("key %s out of order in\n%s", k, s)
		}
		last = i
	}
	if !strings.Contains(s, `"a <&> \u00e9"`) {
		t.Errorf("a string value was rewritten:\n%s", s)
	}
	if !strings.HasSuffix(s, "}\n") || !strings.Contains(s, "\n  \"zeta\": 1,") {
		t.Errorf("result not indented with two spaces:\n%s", s)
	}
}

func TestMergeRefusesMalformed(t *testing.T) {
	for _, in := range []string{
		`{"mcpServers": {`, `{"a":1,}`, `[]`, `"text"`, `42`, `null`, `{"a":1} {"b":2}`, `{"a":1} x`,
		`{"mcpServers": []}`, `{"mcpServers": "x"}`, `{"mcpServers": 3}`, `// comment
{}`,
	} {
		_, _, err := install.Merge([]byte(in), "agentsecrets", srv)
		if !errors.Is(err, install.ErrMalformed) {
			t.Errorf("%q: err = %v, want ErrMalformed", in, err)
		}
	}
}

func TestMergeErrorsSayWhere(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a": 1`, "ends too early"},
		{"{\n  \"a\": 1,\n  \"b\": x\n}", "line 3, column"},
		{`[1]`, "not a JSON object"},
		{`{"mcpServers": []}`, "mcpServers is not a JSON object"},
		{`{} {}`, "data after the JSON object"},
	}
	for _, tc := range tests {
		_, _, err := install.Merge([]byte(tc.in), "agentsecrets", srv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// TestMergeErrorsSayWhereAfterBOM: a byte order mark does not move the
// reported position of a syntax error to the start of the file.
func TestMergeErrorsSayWhereAfterBOM(t *testing.T) {
	for _, in := range []string{"\xef\xbb\xbf{\n  \"a\": 1,\n  \"b\": x\n}", "\xef\xbb\xbf{\n  \"a\": 1,\n  \"b\": 2,\n}"} {
		_, _, err := install.Merge([]byte(in), "agentsecrets", srv)
		if err == nil || !strings.Contains(err.Error(), "line 3, column") && !strings.Contains(err.Error(), "line 4, column") {
			t.Errorf("%q: err = %v, want the line of the error", in, err)
		}
	}
}

// TestMergeKeepsArgsTheUserAdded: the README tells users to add
// "--agent", "claude-desktop" (or --project, --env) after "mcp serve";
// installing again keeps them, replacing only the flags install sets.
func TestMergeKeepsArgsTheUserAdded(t *testing.T) {
	withProject := install.Server{Command: srv.Command, Args: []string{"mcp", "serve", "--project", "api"}}
	tests := []struct {
		name     string
		srv      install.Server
		args     string // the entry's args before
		want     []any
		wantSame bool
	}{
		{"agent kept, nothing to do", srv, `["mcp","serve","--agent","claude-desktop"]`, []any{"mcp", "serve", "--agent", "claude-desktop"}, true},
		{"project and env kept", srv, `["mcp","serve","--project","web","--env=staging"]`, []any{"mcp", "serve", "--project", "web", "--env=staging"}, true},
		{"project replaced, agent kept", withProject, `["mcp","serve","--project","web","--agent","cursor"]`, []any{"mcp", "serve", "--project", "api", "--agent", "cursor"}, false},
		{"project= replaced", withProject, `["mcp","serve","--project=web"]`, []any{"mcp", "serve", "--project", "api"}, false},
		{"other command replaced", srv, `["serve","--agent","x"]`, []any{"mcp", "serve"}, false},
		{"not strings replaced", srv, `["mcp","serve",1]`, []any{"mcp", "serve"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := `{"mcpServers":{"agentsecrets":{"command":"` + srv.Command + `","args":` + tc.args + `}}}`
			out, changed, err := install.Merge([]byte(in), "agentsecrets", tc.srv)
			if err != nil {
				t.Fatal(err)
			}
			if changed == tc.wantSame {
				t.Fatalf("changed = %v:\n%s", changed, out)
			}
			if !changed {
				return
			}
			entry := decode(t, out)["mcpServers"].(map[string]any)["agentsecrets"].(map[string]any)
			if !reflect.DeepEqual(entry["args"], tc.want) {
				t.Errorf("args %v, want %v", entry["args"], tc.want)
			}
			if _, changed, _ := install.Merge(out, "agentsecrets", tc.srv); changed {
				t.Error("a second merge changed the file")
			}
		})
	}
}

func FuzzMerge(f *testing.F) {
	for _, s := range []string{"", "{}", `{"mcpServers":{"x":{"command":"y"}}}`, `{"a":[1,{"b":null}],"mcpServers":null}`,
		`{"mcpServers":{"agentsecrets":{"command":"c","args":[]}}}`, `{"k":"\u2028<"}`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, changed, err := install.Merge(in, "agentsecrets", srv)
		if err != nil {
			return
		}
		if !changed {
			// Unchanged only when the entry is already there.
			if !hasEntry(bytes.TrimPrefix(in, []byte("\xef\xbb\xbf"))) {
				t.Fatalf("unchanged but the entry is not there: %q", in)
			}
			return
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("invalid result %q for %q: %v", out, in, err)
		}
		if !hasEntry(out) {
			t.Fatalf("entry missing in %q", out)
		}
		var before map[string]json.RawMessage
		if len(bytes.TrimSpace(bytes.TrimPrefix(in, []byte("\xef\xbb\xbf")))) > 0 {
			if err := json.Unmarshal(bytes.TrimPrefix(in, []byte("\xef\xbb\xbf")), &before); err != nil {
				t.Fatalf("merged input that encoding/json refuses: %q: %v", in, err)
			}
		}
		for k, v := range before {
			if k == "mcpServers" {
				continue
			}
			if !sameJSON(v, got[k]) {
				t.Fatalf("key %q changed from %s to %s", k, v, got[k])
			}
		}
		if _, changed, err := install.Merge(out, "agentsecrets", srv); err != nil || changed {
			t.Fatalf("second merge of %q: changed=%v err=%v", out, changed, err)
		}
	})
}

// hasEntry reports whether config runs srv as mcpServers.agentsecrets,
// matching keys exactly as JavaScript clients do.
func hasEntry(config []byte) bool {
	var root, servers, entry map[string]json.RawMessage
	if json.Unmarshal(config, &root) != nil || json.Unmarshal(root["mcpServers"], &servers) != nil ||
		json.Unmarshal(servers["agentsecrets"], &entry) != nil {
		return false
	}
	var args []string
	return sameJSON(entry["command"], []byte(`"`+srv.Command+`"`)) && json.Unmarshal(entry["args"], &args) == nil &&
		len(args) >= 2 && args[0] == "mcp" && args[1] == "serve"
}

func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func TestConfigPath(t *testing.T) {
	env := func(goos string, vars map[string]string) install.Env {
		return install.Env{GOOS: goos, Getenv: func(k string) string { return vars[k] },
			UserHomeDir: func() (string, error) { return "/from/userdb", nil }}
	}
	tests := []struct {
		client string
		env    install.Env
		want   string
	}{
		{install.Claude, env("darwin", map[string]string{"HOME": "/Users/ada"}), "/Users/ada/Library/Application Support/Claude/claude_desktop_config.json"},
		{install.Claude, env("linux", map[string]string{"HOME": "/home/ada"}), "/home/ada/.config/Claude/claude_desktop_config.json"},
		{install.Claude, env("linux", map[string]string{"HOME": "/home/ada", "XDG_CONFIG_HOME": "/xdg"}), "/xdg/Claude/claude_desktop_config.json"},
		{install.Claude, env("linux", map[string]string{"HOME": "/home/ada", "XDG_CONFIG_HOME": "relative"}), "/home/ada/.config/Claude/claude_desktop_config.json"},
		{install.Claude, env("windows", map[string]string{"USERPROFILE": "/c/Users/ada", "APPDATA": "/c/Users/ada/AppData/Roaming"}), "/c/Users/ada/AppData/Roaming/Claude/claude_desktop_config.json"},
		{install.Claude, env("windows", map[string]string{"USERPROFILE": "/c/Users/ada"}), "/c/Users/ada/AppData/Roaming/Claude/claude_desktop_config.json"},
		{install.Claude, env("linux", nil), "/from/userdb/.config/Claude/claude_desktop_config.json"},
		{install.Cursor, env("linux", map[string]string{"HOME": "/home/ada"}), "/home/ada/.cursor/mcp.json"},
		{install.Cursor, env("windows", map[string]string{"USERPROFILE": "/c/Users/ada", "HOME": "/elsewhere"}), "/c/Users/ada/.cursor/mcp.json"},
	}
	for _, tc := range tests {
		got, err := install.ConfigPath(tc.client, tc.env)
		if err != nil {
			t.Fatal(err)
		}
		if got != filepath.FromSlash(tc.want) {
			t.Errorf("%s on %s: %s, want %s", tc.client, tc.env.GOOS, got, tc.want)
		}
	}
	if _, err := install.ConfigPath("vscode", env("linux", map[string]string{"HOME": "/h"})); err == nil {
		t.Error("unknown client accepted")
	}
	noHome := install.Env{Getenv: func(string) string { return "" }, UserHomeDir: func() (string, error) { return "", errors.New("none") }}
	if _, err := install.ConfigPath(install.Cursor, noHome); err == nil {
		t.Error("no home accepted")
	}
}

func TestApplyBacksUpThenReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mcp.json")
	orig := []byte(`{"mcpServers":{"fs":{"command":"npx"}},"other":true}`)
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	p, err := install.Prepare(install.Cursor, path, "agentsecrets", srv)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Exists || !p.Changed {
		t.Fatalf("plan %+v", p)
	}
	backup, err := p.Apply(now)
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ".bak-20300506T070809Z"; backup != want {
		t.Fatalf("backup %s, want %s", backup, want)
	}
	if data, _ := os.ReadFile(backup); !bytes.Equal(data, orig) {
		t.Fatalf("backup holds %s", data)
	}
	assertMode(t, backup, 0o600)
	assertMode(t, path, 0o600)
	got := decode(t, mustRead(t, path))
	if got["other"] != true || got["mcpServers"].(map[string]any)["fs"] == nil || got["mcpServers"].(map[string]any)["agentsecrets"] == nil {
		t.Fatalf("merged file %v", got)
	}
	// A second change in the same second keeps the first backup.
	p2, err := install.Prepare(install.Cursor, path, "agentsecrets", install.Server{Command: "/new/agentsecrets", Args: srv.Args})
	if err != nil {
		t.Fatal(err)
	}
	backup2, err := p2.Apply(now)
	if err != nil {
		t.Fatal(err)
	}
	if backup2 == backup {
		t.Fatal("second backup overwrote the first")
	}
	if data, _ := os.ReadFile(backup); !bytes.Equal(data, orig) {
		t.Fatal("first backup changed")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("left %d files in the directory, want the file and two backups", len(entries))
	}
}

func TestApplyCreatesPrivateFileAndDirs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "claude_desktop_config.json")
	p, err := install.Prepare(install.Claude, path, "agentsecrets", srv)
	if err != nil {
		t.Fatal(err)
	}
	if p.Exists || !p.Changed {
		t.Fatalf("plan %+v", p)
	}
	backup, err := p.Apply(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if backup != "" {
		t.Errorf("backup %q of a file that did not exist", backup)
	}
	assertMode(t, path, 0o600)
	assertMode(t, filepath.Dir(path), 0o700|os.ModeDir)
	assertMode(t, filepath.Dir(filepath.Dir(path)), 0o700|os.ModeDir)
}

func TestApplyFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles-mcp.json")
	if err := os.WriteFile(target, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "mcp.json")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symlinks:", err)
	}
	p, err := install.Prepare(install.Cursor, link, "agentsecrets", srv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(time.Now()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the link was replaced by a file")
	}
	if !bytes.Contains(mustRead(t, target), []byte("agentsecrets")) {
		t.Fatal("the link's target was not updated")
	}
}

// A link to a file that does not exist is refused: following it would
// create a file wherever it points, and renaming over it would silently
// turn the link into a regular file.
func TestPrepareRefusesDanglingSymlink(t *testing.T) {
	tests := []struct{ name, target string }{
		{"missing file", "dotfiles-mcp.json"},
		{"missing directory", filepath.Join("gone", "mcp.json")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			link := filepath.Join(dir, "mcp.json")
			if err := os.Symlink(filepath.Join(dir, tt.target), link); err != nil {
				t.Skip("no symlinks:", err)
			}
			p, err := install.Prepare(install.Cursor, link, "agentsecrets", srv)
			if err == nil {
				_, err = p.Apply(time.Now())
			}
			if err == nil {
				t.Error("a dangling symbolic link was accepted")
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Error("the link was replaced by a file")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("%d entries in the directory, want the link alone", len(entries))
			}
		})
	}
}

// The file may hold a passphrase or tokens in an entry's env: whatever its
// mode was, the written file is readable by its owner only.
func TestApplyWritesPrivateFile(t *testing.T) {
	tests := []struct{ before, after os.FileMode }{
		{0o644, 0o600},
		{0o640, 0o600},
		{0o666, 0o600},
		{0o600, 0o600},
		{0o400, 0o400},
	}
	for _, tt := range tests {
		t.Run(tt.before.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "claude_desktop_config.json")
			if err := os.WriteFile(path, []byte(`{"mcpServers":{"x":{"command":"x","env":{"AGENTSECRETS_PASSPHRASE":"p"}}}}`), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.before); err != nil {
				t.Fatal(err)
			}
			p, err := install.Prepare(install.Claude, path, "agentsecrets", srv)
			if err != nil {
				t.Fatal(err)
			}
			backup, err := p.Apply(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			assertMode(t, path, tt.after)
			assertMode(t, backup, 0o600)
		})
	}
}

func TestPrepareMalformedWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mcp.json")
	bad := []byte(`{"mcpServers": {"fs": {"command": "npx"}},`)
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := install.Prepare(install.Cursor, path, "agentsecrets", srv)
	if !errors.Is(err, install.ErrMalformed) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want ErrMalformed naming the file", err)
	}
	if !bytes.Equal(mustRead(t, path), bad) {
		t.Fatal("malformed file changed")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("%d files in the directory, want 1", len(entries))
	}
}

func TestUnchangedPlanWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mcp.json")
	p, _ := install.Prepare(install.Cursor, path, "agentsecrets", srv)
	if _, err := p.Apply(time.Now()); err != nil {
		t.Fatal(err)
	}
	before := mustRead(t, path)
	info, _ := os.Stat(path)
	p, err := install.Prepare(install.Cursor, path, "agentsecrets", srv)
	if err != nil {
		t.Fatal(err)
	}
	if p.Changed {
		t.Fatal("second plan changes the file")
	}
	if backup, err := p.Apply(time.Now()); err != nil || backup != "" {
		t.Fatalf("backup=%q err=%v", backup, err)
	}
	after, _ := os.Stat(path)
	if !bytes.Equal(mustRead(t, path), before) || !after.ModTime().Equal(info.ModTime()) {
		t.Fatal("unchanged plan rewrote the file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("%d files in the directory, want 1", len(entries))
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModePerm | os.ModeDir); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}
