package keychain

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// secretServiceEnv is set by scripts/with-keyring.sh when a real,
// unlocked Secret Service runs on a private session bus.
const secretServiceEnv = "AGENTSECRETS_TEST_SECRET_SERVICE"

func TestSecretService(t *testing.T) {
	if os.Getenv(secretServiceEnv) != "1" {
		t.Skip("no Secret Service to test against: " + secretServiceEnv + "=1 is set by scripts/with-keyring.sh")
	}
	const timeout = 10 * time.Second
	if !KeychainAvailable(timeout) {
		t.Fatal("KeychainAvailable = false with a running Secret Service")
	}
	b, err := Open(Options{Dir: t.TempDir(), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != KindKeychain {
		t.Fatalf("automatic selection chose %q, want %q", b.Name(), KindKeychain)
	}

	workspace := fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano())
	ref := Ref{Workspace: workspace, Project: "proj", Environment: "development", Key: "STRIPE_KEY"}
	staging := ref
	staging.Environment = "staging"
	t.Cleanup(func() {
		_ = b.Delete(ref)
		_ = b.Delete(staging)
	})

	_, err = b.Get(ref)
	wantErr(t, err, ErrNotFound, "Get before Set")
	wantErr(t, b.Delete(ref), ErrNotFound, "Delete before Set")

	mustSet(t, b, ref, "sk_test_first")
	wantValue(t, b, ref, "sk_test_first")
	mustSet(t, b, ref, "sk_test_second")
	wantValue(t, b, ref, "sk_test_second")
	binary := "bytes \x00\x01\xfe\xff and ünïcode"
	mustSet(t, b, staging, binary)
	wantValue(t, b, staging, binary)
	wantValue(t, b, ref, "sk_test_second")

	if got := readInChild(t, workspace, "sk_test_second"); got != "equal" {
		t.Fatalf("a new process read %q, want the value set here", got)
	}

	if err := b.Delete(ref); err != nil {
		t.Fatal(err)
	}
	_, err = b.Get(ref)
	wantErr(t, err, ErrNotFound, "Get after Delete")
	wantErr(t, b.Delete(ref), ErrNotFound, "second Delete")
	if got := readInChild(t, workspace, "sk_test_second"); got != "not-found" {
		t.Fatalf("a new process read %q after Delete, want not-found", got)
	}
	wantValue(t, b, staging, binary)
}

// readInChild reads the development STRIPE_KEY of workspace from the OS
// keychain in a new process and reports "equal", "different" or
// "not-found".
func readInChild(t *testing.T, workspace, want string) string {
	t.Helper()
	cmd := childCommand(t, "ss-get", "CHILD_WORKSPACE="+workspace, "CHILD_WANT="+want)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	return strings.TrimSpace(string(out))
}
