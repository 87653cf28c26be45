package keychain

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestConcurrentProcessesLoseNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	const perChild = 100
	prefixes := []string{"CHILD_A", "CHILD_B"}
	var wg sync.WaitGroup
	errs := make([]error, len(prefixes))
	for i, prefix := range prefixes {
		cmd := childCommand(t, "set-many", "CHILD_DIR="+dir, "CHILD_PASSPHRASE=pw",
			"CHILD_PREFIX="+prefix, "CHILD_N="+strconv.Itoa(perChild))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cmd.Run()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("child %s: %v", prefixes[i], err)
		}
	}
	b := openFile(t, dir, "pw")
	for _, prefix := range prefixes {
		for i := 0; i < perChild; i++ {
			wantValue(t, b, testRef(fmt.Sprintf("%s_%d", prefix, i)), streamValue(prefix, i))
		}
	}
	vf, err := parseVaultFile(readVault(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(vf.Items) != perChild*len(prefixes) {
		t.Fatalf("%d items, want %d", len(vf.Items), perChild*len(prefixes))
	}
}

func TestKilledWriterKeepsCommittedValues(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	cmd := childCommand(t, "set-stream", "CHILD_DIR="+dir, "CHILD_PASSPHRASE=pw")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 40
	committed := -1
	lines := bufio.NewScanner(stdout)
	for committed < killAfter && lines.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "committed "))
		if err != nil {
			t.Fatalf("child said %q", lines.Text())
		}
		committed = n
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Commits reported after the last line read are kept too; count them.
	for lines.Scan() {
		if n, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "committed ")); err == nil {
			committed = n
		}
	}
	state, _ := cmd.Process.Wait()
	if ws, ok := state.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed mid-stream: %v", state)
	}
	if committed < killAfter {
		t.Fatalf("child committed only %d writes", committed+1)
	}
	b := openFile(t, dir, "pw")
	for i := 0; i <= committed; i++ {
		wantValue(t, b, testRef(fmt.Sprintf("KEY_%d", i)), streamValue("KEY", i))
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != VaultFileName && e.Name() != LockFileName && !strings.HasPrefix(e.Name(), "."+VaultFileName+".tmp-") {
			t.Errorf("unexpected file %s", e.Name())
		}
	}
}

// silentBus listens on a unix socket, accepts connections and never
// answers, like a D-Bus daemon that hangs.
func silentBus(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bus")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return path
}

func runProbe(t *testing.T, env ...string) probeResult {
	t.Helper()
	env = append(env, "CHILD_DIR="+t.TempDir(), "CHILD_TIMEOUT=300ms")
	cmd := childCommand(t, "probe", env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe child: %v", err)
	}
	var r probeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("probe child printed %q: %v", out, err)
	}
	return r
}

func wantFileFallback(t *testing.T, r probeResult) {
	t.Helper()
	if r.Available {
		t.Error("KeychainAvailable = true")
	}
	if r.AutoBackend != KindFile {
		t.Errorf("automatic selection chose %q, want %q", r.AutoBackend, KindFile)
	}
	if !r.ForcedUnavailable || !strings.Contains(r.ForcedError, "AGENTSECRETS_BACKEND=file") {
		t.Errorf("Open(keychain) error = %q, want ErrUnavailable with a hint", r.ForcedError)
	}
	if !r.BatchUnavailable {
		t.Error("GetMany on the keychain did not give ErrUnavailable")
	}
	if !r.CheckUnavailable {
		t.Error("Check of the keychain did not give ErrUnavailable")
	}
}

func TestUnansweredKeychainFallsBackToFile(t *testing.T) {
	cases := map[string]string{
		"bus that never answers": "unix:path=" + silentBus(t),
		"bus socket missing":     "unix:path=" + filepath.Join(t.TempDir(), "missing"),
	}
	for name, addr := range cases {
		t.Run(name, func(t *testing.T) {
			wantFileFallback(t, runProbe(t, "DBUS_SESSION_BUS_ADDRESS="+addr))
		})
	}
}

func TestNoSessionBusNeverLaunchesOne(t *testing.T) {
	runtimeDir := filepath.Join("/run/user", strconv.Itoa(os.Getuid()))
	for _, name := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(filepath.Join(runtimeDir, name)); err == nil {
			t.Skipf("this machine has a session bus at %s", filepath.Join(runtimeDir, name))
		}
	}
	// A dbus-launch on PATH that leaves a mark if anything runs it.
	bin := t.TempDir()
	mark := filepath.Join(t.TempDir(), "launched")
	script := "#!/bin/sh\n: > " + mark + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "dbus-launch"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	r := runProbe(t, "DBUS_SESSION_BUS_ADDRESS=", "PATH="+bin)
	wantFileFallback(t, r)
	if _, err := os.Stat(mark); err == nil {
		t.Fatal("dbus-launch was run")
	}
}

// TestKeyringErrorMapping: only a go-keyring "not found" is ErrNotFound,
// and a value too large for the OS keychain is not reported as an
// unavailable keychain (whose hint is to start one or switch backends).
func TestKeyringErrorMapping(t *testing.T) {
	cases := []struct{ err, want string }{
		{"too-big", "unavailable=false not-found=false"},
		{"not-found", "unavailable=false not-found=true"},
		{"other", "unavailable=true not-found=false"},
	}
	for _, tc := range cases {
		t.Run(tc.err, func(t *testing.T) {
			// The mock needs no bus, but the backend checks one is known.
			cmd := childCommand(t, "mock-error", "CHILD_ERROR="+tc.err, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v", err)
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.err, got, tc.want)
			}
		})
	}
}

// TestOSKeychainCheck: Check of the OS keychain backend fails with
// ErrUnavailable when the keychain cannot be reached, so that a removal
// fails before it edits the index; a keychain that answers, even "not
// found", passes.
func TestOSKeychainCheck(t *testing.T) {
	cases := []struct{ err, want string }{
		{"", "ok"},
		{"not-found", "ok"},
		{"other", "unavailable"},
	}
	for _, tc := range cases {
		t.Run("mock error "+tc.err, func(t *testing.T) {
			// The mock needs no bus, but the backend checks one is known.
			cmd := childCommand(t, "mock-check", "CHILD_ERROR="+tc.err, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v", err)
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("Check = %s, want %s", got, tc.want)
			}
		})
	}
}
