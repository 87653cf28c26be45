package keychain

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/vault/seal"
	"github.com/zalando/go-keyring"
)

// Test processes re-execute the test binary with childModeEnv set to one of
// the child modes below; the child reads its arguments from the
// environment, prints its result on stdout and exits.
const childModeEnv = "AGENTSECRETS_KEYCHAIN_TEST_CHILD"

// productionKDFParams remembers kdfParams before TestMain lowers them.
var productionKDFParams = kdfParams

// testKDFParams keep Argon2id cheap in tests; production files use
// seal.DefaultParams.
var testKDFParams = seal.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: seal.KeySize}

func TestMain(m *testing.M) {
	kdfParams = testKDFParams
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(m.Run())
}

var childModes = map[string]func() error{
	"set-many":   childSetMany,
	"set-stream": childSetStream,
	"probe":      childProbe,
	"ss-get":     childSecretServiceGet,
	"mock-error": childMockError,
	"mock-check": childMockCheck,
}

func runChild(mode string) int {
	run, ok := childModes[mode]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
		return 2
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// childCommand prepares a re-execution of the test binary in mode with
// extra environment variables.
func childCommand(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childModeEnv + "=" + mode}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

func childFileBackend() (Backend, error) {
	pass := os.Getenv("CHILD_PASSPHRASE")
	return Open(Options{
		Dir:        os.Getenv("CHILD_DIR"),
		Kind:       KindFile,
		Passphrase: func() ([]byte, error) { return []byte(pass), nil },
	})
}

// childSetMany sets CHILD_N keys named CHILD_PREFIX_i.
func childSetMany() error {
	b, err := childFileBackend()
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(os.Getenv("CHILD_N"))
	if err != nil {
		return err
	}
	prefix := os.Getenv("CHILD_PREFIX")
	for i := 0; i < n; i++ {
		ref := testRef(fmt.Sprintf("%s_%d", prefix, i))
		if err := b.Set(ref, []byte(streamValue(prefix, i))); err != nil {
			return err
		}
	}
	return nil
}

// childSetStream sets KEY_i for i = 0, 1, ... and prints "committed i"
// after each Set returns, until it is killed or reaches a bound.
func childSetStream() error {
	b, err := childFileBackend()
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; i < 100000; i++ {
		if err := b.Set(testRef(fmt.Sprintf("KEY_%d", i)), []byte(streamValue("KEY", i))); err != nil {
			return err
		}
		fmt.Fprintf(out, "committed %d\n", i)
		if err := out.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// probeResult is what childProbe prints.
type probeResult struct {
	Available         bool   `json:"available"`
	AutoBackend       string `json:"auto_backend"`
	ForcedUnavailable bool   `json:"forced_unavailable"`
	ForcedError       string `json:"forced_error"`
	BatchUnavailable  bool   `json:"batch_unavailable"`
	GetUnavailable    bool   `json:"get_unavailable"`
	CheckUnavailable  bool   `json:"check_unavailable"`
}

// childProbe reports how selection behaves with the environment it was
// given (a D-Bus address that fails or stays silent, or none).
func childProbe() error {
	timeout, err := time.ParseDuration(os.Getenv("CHILD_TIMEOUT"))
	if err != nil {
		return err
	}
	var r probeResult
	r.Available = KeychainAvailable(timeout)
	auto, err := Open(Options{Dir: os.Getenv("CHILD_DIR"), Timeout: timeout})
	if err != nil {
		return err
	}
	r.AutoBackend = auto.Name()
	_, err = Open(Options{Dir: os.Getenv("CHILD_DIR"), Kind: KindKeychain, Timeout: timeout})
	r.ForcedUnavailable = errors.Is(err, ErrUnavailable)
	if err != nil {
		r.ForcedError = err.Error()
	}
	_, err = GetMany(newOSKeychain(timeout), []Ref{probeRef, testRef("A_KEY")})
	r.BatchUnavailable = errors.Is(err, ErrUnavailable)
	_, err = newOSKeychain(timeout).Get(testRef("A_KEY"))
	r.GetUnavailable = errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrNotFound)
	r.CheckUnavailable = errors.Is(Check(newOSKeychain(timeout)), ErrUnavailable)
	return json.NewEncoder(os.Stdout).Encode(r)
}

// childSecretServiceGet reads CHILD_ACCOUNT's key from the OS keychain and
// compares it with CHILD_WANT; it prints "equal", "different" or
// "not-found", never the value.
func childSecretServiceGet() error {
	b, err := Open(Options{Kind: KindKeychain, Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	ref := Ref{Workspace: os.Getenv("CHILD_WORKSPACE"), Project: "proj", Environment: "development", Key: "STRIPE_KEY"}
	got, err := b.Get(ref)
	switch {
	case errors.Is(err, ErrNotFound):
		fmt.Println("not-found")
	case err != nil:
		return err
	case string(got) == os.Getenv("CHILD_WANT"):
		fmt.Println("equal")
	default:
		fmt.Println("different")
	}
	return nil
}

// childMockError makes go-keyring's mock fail every call with the error
// named by CHILD_ERROR and prints which sentinels a Set then matches.
func childMockError() error {
	errs := map[string]error{"too-big": keyring.ErrSetDataTooBig, "not-found": keyring.ErrNotFound, "other": errors.New("dbus: no reply")}
	keyring.MockInitWithError(errs[os.Getenv("CHILD_ERROR")])
	err := newOSKeychain(time.Second).Set(testRef("A_KEY"), []byte("sk_live_value"))
	fmt.Printf("unavailable=%t not-found=%t\n", errors.Is(err, ErrUnavailable), errors.Is(err, ErrNotFound))
	return nil
}

// childMockCheck makes go-keyring's mock fail every call with the error
// named by CHILD_ERROR ("" for none) and prints what Check then says of
// the OS keychain: "ok", "unavailable" or "other".
func childMockCheck() error {
	errs := map[string]error{"not-found": keyring.ErrNotFound, "other": errors.New("dbus: no reply")}
	if e := os.Getenv("CHILD_ERROR"); e != "" {
		keyring.MockInitWithError(errs[e])
	} else {
		keyring.MockInit()
	}
	switch err := Check(newOSKeychain(time.Second)); {
	case err == nil:
		fmt.Println("ok")
	case errors.Is(err, ErrUnavailable):
		fmt.Println("unavailable")
	default:
		fmt.Println("other")
	}
	return nil
}

func testRef(key string) Ref {
	return Ref{Workspace: "acme", Project: "api", Environment: "development", Key: key}
}

func streamValue(prefix string, i int) string {
	return fmt.Sprintf("value-of-%s-%d", prefix, i)
}
