package keychain

import (
	"fmt"
	"os"
	"runtime"
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
	if err := Check(b); err != nil {
		t.Fatalf("Check of an unlocked Secret Service = %v", err)
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

func TestSecretServiceGetMany(t *testing.T) {
	b := openSecretService(t)
	if _, ok := b.(BatchGetter); !ok && runtime.GOOS == "linux" {
		t.Fatal("the Secret Service backend reads one value at a time")
	}
	workspace := fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano())
	refs, want := batchFixture(t, b, workspace)
	t.Cleanup(func() { deleteWorkspace(b, workspace) })

	got, err := GetMany(b, refs)
	if err != nil {
		t.Fatal(err)
	}
	wantBatch(t, got, want)
	for ref := range want {
		wantValue(t, b, ref, string(got[ref]))
	}

	none, err := GetMany(b, []Ref{{Workspace: workspace, Project: "api", Environment: "development", Key: "NEVER_SET"}})
	if err != nil || len(none) != 0 {
		t.Fatalf("only a missing ref: %d values, %v", len(none), err)
	}

	// More refs than one session reads: values on both sides of each cut.
	many := make([]Ref, 2*maxBatch+10)
	wantMany := map[Ref]string{}
	for i := range many {
		many[i] = Ref{Workspace: workspace, Project: "many", Environment: "development", Key: fmt.Sprintf("KEY_%d", i)}
		if i%maxBatch == 0 || i%maxBatch == maxBatch-1 || i == len(many)-1 {
			wantMany[many[i]] = fmt.Sprintf("value-%d", i)
			mustSet(t, b, many[i], wantMany[many[i]])
		}
	}
	t.Cleanup(func() {
		for r := range wantMany {
			_ = b.Delete(r)
		}
	})
	got, err = GetMany(b, many)
	if err != nil {
		t.Fatal(err)
	}
	wantBatch(t, got, wantMany)
}

func BenchmarkSecretServiceGetMany100(b *testing.B) {
	be := openSecretService(b)
	workspace := fmt.Sprintf("bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	refs := benchRefs(b, be, workspace)
	b.Cleanup(func() {
		for _, r := range refs {
			_ = be.Delete(r)
		}
	})
	benchBatch(b, be, refs)
}

// openSecretService opens the keychain backend, or skips without a Secret
// Service to test against.
func openSecretService(t testing.TB) Backend {
	t.Helper()
	if os.Getenv(secretServiceEnv) != "1" {
		t.Skip("no Secret Service to test against: " + secretServiceEnv + "=1 is set by scripts/with-keyring.sh")
	}
	b, err := Open(Options{Kind: KindKeychain, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deleteWorkspace removes what batchFixture stored under workspace.
func deleteWorkspace(b Backend, workspace string) {
	for _, p := range []string{"api", "other"} {
		for _, e := range []string{"development", "staging", "production"} {
			for _, k := range []string{"A_KEY", "B_KEY", "C_KEY"} {
				_ = b.Delete(Ref{Workspace: workspace, Project: p, Environment: e, Key: k})
			}
		}
	}
}
