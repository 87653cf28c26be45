//go:build unix

package install_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/runner/mcpserver/install"
)

// TestPrepareAsRootRefusesAnotherUsersFile: run as root (sudo keeping
// HOME), install would replace a user's config with a file owned by root
// and readable by root alone, which the user's client cannot read; it is
// refused, and nothing is written.
func TestPrepareAsRootRefusesAnotherUsersFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	const uid, gid = 4321, 4321
	t.Run("existing file", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "claude_desktop_config.json")
		orig := []byte(`{"mcpServers":{"fs":{"command":"npx"}}}`)
		if err := os.WriteFile(path, orig, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
		p, err := install.Prepare(install.Claude, path, "agentsecrets", srv)
		if err == nil {
			_, err = p.Apply(time.Now())
		}
		if !errors.Is(err, install.ErrOtherUser) || !strings.Contains(err.Error(), path) {
			t.Errorf("err = %v, want a refusal naming root", err)
		}
		if !bytes.Equal(mustRead(t, path), orig) {
			t.Error("the file changed")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("%d files in the directory, want 1", len(entries))
		}
	})
	t.Run("new file in the user's home", func(t *testing.T) {
		home := filepath.Join(t.TempDir(), "home")
		if err := os.Mkdir(home, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(home, uid, gid); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(home, ".cursor", "mcp.json")
		p, err := install.Prepare(install.Cursor, path, "agentsecrets", srv)
		if err == nil {
			_, err = p.Apply(time.Now())
		}
		if !errors.Is(err, install.ErrOtherUser) {
			t.Errorf("err = %v: created a root-owned config in another user's home", err)
		}
		if entries, _ := os.ReadDir(home); len(entries) != 0 {
			t.Errorf("%d entries in the home, want none", len(entries))
		}
	})
}
