package vault

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseProjectConfig(t *testing.T) {
	tests := []struct {
		in      string
		want    ProjectConfig
		errWant string
	}{
		{`{"project":"app","storage_mode":1}`, ProjectConfig{Project: "app", Workspace: "default", Environment: "development", StorageMode: 1}, ""},
		{`{"project":"app","workspace":"w","environment":"staging","storage_mode":2}`, ProjectConfig{Project: "app", Workspace: "w", Environment: "staging", StorageMode: 2}, ""},
		{`{"project":"app","storage_mode":1`, ProjectConfig{}, "malformed JSON"},
		{`{"project":"app","storage_mode":1} {}`, ProjectConfig{}, "data after"},
		{`{"storage_mode":1}`, ProjectConfig{}, "missing project name"},
		{`{"project":"app","storage_mode":3}`, ProjectConfig{}, "unknown storage_mode 3"},
		{`{"project":"app"}`, ProjectConfig{}, "unknown storage_mode 0"},
		{`{"project":"app","storage_mode":1,"environment":"prod"}`, ProjectConfig{}, `unknown environment (4 characters): not development, staging or production`},
		{`{"project":"app","storage_mode":1,"environment":"sk_live_4eC39Hq"}`, ProjectConfig{}, `unknown environment (15 characters)`},
		{`{"project":"app","storage_mode":1,"colour":"red"}`, ProjectConfig{}, `unknown field "colour"`},
		{`{"project":"a/b","storage_mode":1}`, ProjectConfig{}, "invalid project name (3 characters): it holds characters other than"},
		{`{"project":"sk live 4eC39Hq","storage_mode":1}`, ProjectConfig{}, "invalid project name (15 characters)"},
		{`[]`, ProjectConfig{}, "malformed JSON"},
	}
	for _, tt := range tests {
		got, err := ParseProjectConfig([]byte(tt.in))
		if tt.errWant != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errWant) {
				t.Errorf("ParseProjectConfig(%s) error = %v, want %q", tt.in, err, tt.errWant)
			}
			if err != nil && strings.Contains(err.Error(), "4eC39Hq") { // a refused name is not repeated
				t.Errorf("ParseProjectConfig(%s) error = %v: repeats the name", tt.in, err)
			}
			continue
		}
		if err != nil || got.Project != tt.want.Project || got.Workspace != tt.want.Workspace ||
			got.Environment != tt.want.Environment || got.StorageMode != tt.want.StorageMode {
			t.Errorf("ParseProjectConfig(%s) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseProjectConfig(f *testing.F) {
	for _, s := range []string{`{"project":"app","storage_mode":1}`, `{"project":"x","storage_mode":2,"environment":"production","last_pull":"2024-01-01T00:00:00Z"}`, `{`, `null`, `{"project":""}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pc, err := ParseProjectConfig(data)
		if err != nil {
			return
		}
		if ValidateProjectName(pc.Project) != nil || ValidateEnvironment(pc.Environment) != nil ||
			(pc.StorageMode != 1 && pc.StorageMode != 2) || pc.Workspace == "" {
			t.Fatalf("accepted an invalid config %+v from %q", pc, data)
		}
	})
}

func TestLoadProjectConfigNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "project.json")
	if err := os.WriteFile(path, []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadProjectConfig(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadProjectConfig error = %v, want it to name %q", err, path)
	}
}

func TestHomeDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if got, _ := HomeDir(env(map[string]string{"AGENTSECRETS_HOME": "/x/y"})); got != "/x/y" {
		t.Errorf("AGENTSECRETS_HOME: got %q", got)
	}
	if got, _ := HomeDir(env(map[string]string{"HOME": "/h"})); got != "/h/.agentsecrets" {
		t.Errorf("HOME: got %q", got)
	}
	got, err := HomeDir(env(nil))
	if err != nil || !strings.HasSuffix(got, "/.agentsecrets") || !filepath.IsAbs(got) {
		t.Errorf("no HOME: got %q, %v; want the user database's home", got, err)
	}
}
