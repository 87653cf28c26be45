package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// TestDeleteFinishesInterruptedDelete: a delete killed (or whose value
// removal failed) once the index no longer listed the key leaves its
// value in the vault; secrets delete then answered "not found" and no
// command could remove it. Run again, it removes the value.
func TestDeleteFinishesInterruptedDelete(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	sb.mustRun("", "secrets", "set", "A_KEY=the-deleted-value", "B_KEY=kept")

	// What the interrupted delete left: the index without A_KEY, its value
	// still in vault.enc.
	index := filepath.Join(sb.home, vault.IndexFile)
	data, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	var ix map[string]any
	if err := json.Unmarshal(data, &ix); err != nil {
		t.Fatal(err)
	}
	dev := ix["workspaces"].(map[string]any)["default"].(map[string]any)["projects"].(map[string]any)["proj"].(map[string]any)["environments"].(map[string]any)["development"].(map[string]any)
	delete(dev, "A_KEY")
	if data, err = json.Marshal(ix); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(index, data, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := keychain.Open(keychain.Options{Dir: sb.home, Kind: keychain.KindFile,
		Passphrase: func() ([]byte, error) { return []byte(testPassphrase), nil }})
	if err != nil {
		t.Fatal(err)
	}
	r := keychain.Ref{Workspace: vault.DefaultWorkspace, Project: "proj", Environment: vault.Development, Key: "A_KEY"}
	if _, err := b.Get(r); err != nil {
		t.Fatalf("the test's leftover value is not there: %v", err)
	}

	out, errOut, code := sb.run("", "secrets", "delete", "A_KEY", "--yes")
	if code != 0 || !strings.Contains(out, "Deleted A_KEY") {
		t.Fatalf("delete run again: exit %d\n%s%s", code, out, errOut)
	}
	b, err = keychain.Open(keychain.Options{Dir: sb.home, Kind: keychain.KindFile,
		Passphrase: func() ([]byte, error) { return []byte(testPassphrase), nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(r); !errors.Is(err, keychain.ErrNotFound) {
		t.Fatalf("the value is still in the vault after the delete was run again (get: %v)", err)
	}
	if got := readAll(t, sb); len(got) != 1 || got["B_KEY"] != "kept" {
		t.Fatalf("the other keys changed: %v", got)
	}
	if _, errOut, code := sb.run("", "secrets", "delete", "A_KEY", "--yes"); code != ExitNotFound || !strings.Contains(errOut, `secret "A_KEY" not found`) {
		t.Fatalf("delete once the value is gone: exit %d\n%s", code, errOut)
	}
}

// TestDeleteUnlistedWithoutPassphrase: deleting a key no index lists, with
// the encrypted file's passphrase neither given nor askable, answers "not
// found" as it did before it looked for a value left behind.
func TestDeleteUnlistedWithoutPassphrase(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	sb.mustRun("", "secrets", "set", "A_KEY=a")
	var env []string
	for _, kv := range sb.env {
		if !strings.HasPrefix(kv, "AGENTSECRETS_PASSPHRASE=") {
			env = append(env, kv)
		}
	}
	sb.env = env
	if _, errOut, code := sb.run("", "secrets", "delete", "NOPE_KEY", "--yes"); code != ExitNotFound || !strings.Contains(errOut, `secret "NOPE_KEY" not found`) {
		t.Fatalf("delete of an unlisted key without a passphrase: exit %d\n%s", code, errOut)
	}
}
