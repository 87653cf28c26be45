//go:build linux

package keychain

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	dbus "github.com/godbus/dbus/v5"
)

// lockedSecretService runs a private D-Bus daemon with a fake Secret
// Service on it whose login collection is locked: Unlock returns a prompt,
// and the prompt never completes, as when a desktop asks for the password
// and nobody types it. It returns the bus address.
func lockedSecretService(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon not installed")
	}
	daemon := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1",
		"--address=unix:path="+filepath.Join(t.TempDir(), "bus"))
	out, err := daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = daemon.Process.Kill()
		_ = daemon.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	addr := strings.TrimSpace(line)
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fake := &fakeLockedService{}
	for path, iface := range map[dbus.ObjectPath]string{
		"/org/freedesktop/secrets":                  "org.freedesktop.Secret.Service",
		"/org/freedesktop/secrets/collection/login": "org.freedesktop.Secret.Collection",
		"/org/freedesktop/secrets/prompt/unlock":    "org.freedesktop.Secret.Prompt",
	} {
		for _, i := range []string{iface, "org.freedesktop.DBus.Properties"} {
			if err := conn.Export(fake, path, i); err != nil {
				t.Fatal(err)
			}
		}
	}
	if reply, err := conn.RequestName(ssService, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request name: %v %v", reply, err)
	}
	return addr
}

type fakeLockedService struct{}

func (fakeLockedService) Get(_, name string) (dbus.Variant, *dbus.Error) {
	switch name {
	case "Collections":
		return dbus.MakeVariant([]dbus.ObjectPath{"/org/freedesktop/secrets/collection/login"}), nil
	case "Locked":
		return dbus.MakeVariant(true), nil
	}
	return dbus.Variant{}, dbus.MakeFailedError(dbus.ErrMsgUnknownMethod)
}

func (fakeLockedService) Unlock(_ []dbus.ObjectPath) ([]dbus.ObjectPath, dbus.ObjectPath, *dbus.Error) {
	return []dbus.ObjectPath{}, "/org/freedesktop/secrets/prompt/unlock", nil
}

func (fakeLockedService) OpenSession(_ string, _ dbus.Variant) (dbus.Variant, dbus.ObjectPath, *dbus.Error) {
	return dbus.MakeVariant(""), "/org/freedesktop/secrets/session/1", nil
}

// Prompt shows nothing and never sends Completed.
func (fakeLockedService) Prompt(_ string) *dbus.Error { return nil }

// TestLockedKeychainIsChosenAndFailsClosed: a locked keychain is still the
// user's keychain. Automatic selection must take it, not fall back to (and
// have the caller record for good) the file backend because the probe sat
// on an unlock prompt past the timeout; reads then fail closed with
// ErrUnavailable, never ErrNotFound.
func TestLockedKeychainIsChosenAndFailsClosed(t *testing.T) {
	r := runProbe(t, "DBUS_SESSION_BUS_ADDRESS="+lockedSecretService(t))
	if !r.Available {
		t.Error("KeychainAvailable = false for a locked keychain")
	}
	if r.AutoBackend != KindKeychain {
		t.Errorf("automatic selection chose %q for a locked keychain, want %q", r.AutoBackend, KindKeychain)
	}
	if r.ForcedError != "" {
		t.Errorf("Open(keychain) = %q for a locked keychain", r.ForcedError)
	}
	if !r.GetUnavailable {
		t.Error("Get on a locked keychain did not fail with ErrUnavailable")
	}
	if !r.BatchUnavailable {
		t.Error("GetMany on a locked keychain did not fail with ErrUnavailable")
	}
	if !r.CheckUnavailable {
		t.Error("Check of a locked keychain did not fail with ErrUnavailable: a removal would edit the index first")
	}
}
