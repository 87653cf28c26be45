package keychain

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/The-17/agentsecrets/vault/seal"
)

func fixedPassphrase(p string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(p), nil }
}

func openFile(t *testing.T, dir, pass string) Backend {
	t.Helper()
	b, err := Open(Options{Dir: dir, Kind: KindFile, Passphrase: fixedPassphrase(pass)})
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != KindFile {
		t.Fatalf("Name = %q", b.Name())
	}
	return b
}

func mustSet(t *testing.T, b Backend, ref Ref, value string) {
	t.Helper()
	if err := b.Set(ref, []byte(value)); err != nil {
		t.Fatalf("Set %s: %v", ref.Account(), err)
	}
}

func wantValue(t *testing.T, b Backend, ref Ref, want string) {
	t.Helper()
	got, err := b.Get(ref)
	if err != nil {
		t.Fatalf("Get %s: %v", ref.Account(), err)
	}
	if string(got) != want {
		t.Fatalf("Get %s returned a different value (%d bytes, want %d)", ref.Account(), len(got), len(want))
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

func TestProductionKDFParamsAreSealDefaults(t *testing.T) {
	if productionKDFParams != seal.DefaultParams() {
		t.Fatalf("new vault files would use %+v, want %+v", productionKDFParams, seal.DefaultParams())
	}
}

func TestBackendsSetGetDelete(t *testing.T) {
	backends := map[string]Backend{
		"file":   openFile(t, filepath.Join(t.TempDir(), "home"), "correct horse"),
		"memory": NewMemory(),
	}
	for name, b := range backends {
		t.Run(name, func(t *testing.T) {
			a, other := testRef("STRIPE_KEY"), testRef("OTHER_KEY")
			staging := a
			staging.Environment = "staging"
			_, err := b.Get(a)
			wantErr(t, err, ErrNotFound, "Get before any Set")
			wantErr(t, b.Delete(a), ErrNotFound, "Delete before any Set")

			mustSet(t, b, a, "sk_test_1")
			mustSet(t, b, staging, "sk_staging")
			mustSet(t, b, other, "")
			wantValue(t, b, a, "sk_test_1")
			wantValue(t, b, staging, "sk_staging")
			wantValue(t, b, other, "")

			mustSet(t, b, a, "sk_test_2")
			wantValue(t, b, a, "sk_test_2")

			if err := b.Delete(a); err != nil {
				t.Fatal(err)
			}
			_, err = b.Get(a)
			wantErr(t, err, ErrNotFound, "Get after Delete")
			wantErr(t, b.Delete(a), ErrNotFound, "second Delete")
			wantValue(t, b, staging, "sk_staging")
		})
	}
}

func TestFileMissingVaultNeedsNoPassphrase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	calls := 0
	b, err := Open(Options{Dir: dir, Kind: KindFile, Passphrase: func() ([]byte, error) {
		calls++
		return []byte("pw"), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Get(testRef("A"))
	wantErr(t, err, ErrNotFound, "Get")
	wantErr(t, b.Delete(testRef("A")), ErrNotFound, "Delete")
	if calls != 0 {
		t.Fatalf("passphrase asked %d times for a missing vault", calls)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read or a failed delete created %s: %v", dir, err)
	}
}

func TestFilePassphraseAskedAtMostOnce(t *testing.T) {
	dir := t.TempDir()
	calls := 0
	b, err := Open(Options{Dir: dir, Kind: KindFile, Passphrase: func() ([]byte, error) {
		calls++
		return []byte("pw"), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"A", "B", "C"} {
		mustSet(t, b, testRef(k), "v"+k)
		wantValue(t, b, testRef(k), "v"+k)
	}
	if calls != 1 {
		t.Fatalf("passphrase asked %d times, want 1", calls)
	}
}

func TestFileWithoutPassphrase(t *testing.T) {
	cases := map[string]func() ([]byte, error){
		"nil function":          nil,
		"ErrNoPassphrase":       func() ([]byte, error) { return nil, ErrNoPassphrase },
		"wrapped no passphrase": func() ([]byte, error) { return nil, errors.Join(errors.New("no terminal"), ErrNoPassphrase) },
		"empty passphrase":      func() ([]byte, error) { return []byte{}, nil },
	}
	for name, pass := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := Open(Options{Dir: dir, Kind: KindFile, Passphrase: pass})
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, b.Set(testRef("A"), []byte("v")), ErrNoPassphrase, "Set")
			if _, err := os.Stat(filepath.Join(dir, VaultFileName)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("vault file written without a passphrase: %v", err)
			}
		})
	}
}

func TestFilePassphraseFunctionError(t *testing.T) {
	b, err := Open(Options{Dir: t.TempDir(), Kind: KindFile, Passphrase: func() ([]byte, error) {
		return nil, errors.New("terminal closed")
	}})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Set(testRef("A"), []byte("v"))
	if err == nil || !strings.Contains(err.Error(), "terminal closed") || errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("Set = %v, want the passphrase error", err)
	}
}

func TestFileWrongPassphrase(t *testing.T) {
	dir := t.TempDir()
	mustSet(t, openFile(t, dir, "right passphrase"), testRef("A"), "secret-a")
	before := readVault(t, dir)

	b := openFile(t, dir, "hunter2")
	_, err := b.Get(testRef("A"))
	wantErr(t, err, ErrBadPassphrase, "Get")
	wantErr(t, b.Set(testRef("B"), []byte("secret-b")), ErrBadPassphrase, "Set")
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error quotes the passphrase: %v", err)
	}
	if !bytes.Equal(before, readVault(t, dir)) {
		t.Fatal("a failed Set changed vault.enc")
	}
	wantValue(t, openFile(t, dir, "right passphrase"), testRef("A"), "secret-a")
}

// TestFileWrongPassphraseDeletesNothing: removing an item changes the
// vault file, so it needs the passphrase like Set does.
func TestFileWrongPassphraseDeletesNothing(t *testing.T) {
	dir := t.TempDir()
	mustSet(t, openFile(t, dir, "right passphrase"), testRef("A"), "secret-a")
	before := readVault(t, dir)
	b := openFile(t, dir, "hunter2")
	for _, key := range []string{"A", "ABSENT"} {
		if err := b.Delete(testRef(key)); !errors.Is(err, ErrBadPassphrase) {
			t.Errorf("Delete %s with a wrong passphrase = %v, want ErrBadPassphrase", key, err)
		}
	}
	if !bytes.Equal(before, readVault(t, dir)) {
		t.Fatal("a Delete with a wrong passphrase changed vault.enc")
	}
	wantValue(t, openFile(t, dir, "right passphrase"), testRef("A"), "secret-a")
}

// TestFileCheck: Check fails exactly when a Delete would fail as a whole
// (not with ErrNotFound for one item).
func TestFileCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pass    string
		vault   func(dir string) // prepares dir; nil: no vault.enc
		want    error            // nil: Check succeeds
		anyFail bool             // Check fails with some error
	}{
		{name: "no vault file", pass: ""},
		{name: "right passphrase", pass: "pw", vault: func(dir string) {}},
		{name: "wrong passphrase", pass: "wrong", vault: func(dir string) {}, want: ErrBadPassphrase},
		{name: "no passphrase", pass: "", vault: func(dir string) {}, want: ErrNoPassphrase},
		{name: "truncated file", pass: "pw", anyFail: true, vault: func(dir string) {
			path := filepath.Join(dir, VaultFileName)
			data, _ := os.ReadFile(path)
			_ = os.WriteFile(path, data[:len(data)/2], 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.vault != nil {
				mustSet(t, openFile(t, dir, "pw"), testRef("A"), "secret-a")
				tc.vault(dir)
			}
			b := openFile(t, dir, tc.pass)
			err := Check(b)
			switch {
			case tc.anyFail && err == nil, !tc.anyFail && tc.want == nil && err != nil, tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Check = %v, want %v (any error: %v)", err, tc.want, tc.anyFail)
			}
			delErr := b.Delete(testRef("A"))
			if errors.Is(delErr, ErrNotFound) {
				delErr = nil
			}
			if (delErr == nil) != (err == nil) {
				t.Fatalf("Check = %v but Delete = %v", err, delErr)
			}
		})
	}
	if err := Check(NewMemory()); err != nil {
		t.Fatalf("Check of a backend that is no Checker = %v", err)
	}
}

func readVault(t *testing.T, dir string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, VaultFileName))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func editVault(t *testing.T, dir string, edit func(vf *vaultFile)) {
	t.Helper()
	var vf vaultFile
	if err := json.Unmarshal(readVault(t, dir), &vf); err != nil {
		t.Fatal(err)
	}
	edit(&vf)
	data, err := json.Marshal(&vf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, VaultFileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFileDetectsTampering(t *testing.T) {
	a, b := testRef("A_KEY"), testRef("B_KEY")
	prod := a
	prod.Environment = "production"
	cases := []struct {
		name   string
		edit   func(vf *vaultFile)
		victim Ref
		want   error
	}{
		{"flipped blob byte", func(vf *vaultFile) {
			it := vf.Items[a.Account()]
			it.Blob[len(it.Blob)/2] ^= 0x01
		}, a, ErrTampered},
		{"truncated blob", func(vf *vaultFile) {
			it := vf.Items[a.Account()]
			it.Blob = it.Blob[:len(it.Blob)-1]
			vf.Items[a.Account()] = it
		}, a, ErrTampered},
		{"blob moved to another key", func(vf *vaultFile) {
			vf.Items[b.Account()] = vf.Items[a.Account()]
		}, b, ErrTampered},
		{"blob moved to another environment", func(vf *vaultFile) {
			vf.Items[prod.Account()] = vf.Items[a.Account()]
		}, prod, ErrTampered},
		{"blob with the version of another", func(vf *vaultFile) {
			it := vf.Items[a.Account()]
			it.Blob = vf.Items[b.Account()].Blob
			vf.Items[a.Account()] = it
		}, a, ErrTampered},
		{"version changed", func(vf *vaultFile) {
			it := vf.Items[a.Account()]
			it.Version++
			vf.Items[a.Account()] = it
		}, a, ErrTampered},
		{"check blob flipped", func(vf *vaultFile) {
			vf.Check[0] ^= 0x01
		}, a, ErrBadPassphrase},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			be := openFile(t, dir, "pw")
			mustSet(t, be, a, "secret-a")
			mustSet(t, be, b, "secret-b")
			editVault(t, dir, c.edit)
			got, err := openFile(t, dir, "pw").Get(c.victim)
			if !errors.Is(err, c.want) {
				t.Fatalf("Get = %d bytes, %v; want %v", len(got), err, c.want)
			}
			if strings.Contains(err.Error(), "secret-") {
				t.Fatalf("error contains a value: %v", err)
			}
		})
	}
}

func TestFileRejectsMalformedVaultAndLeavesIt(t *testing.T) {
	cases := map[string]string{
		"not json":        "{not json",
		"wrong format":    `{"format":"other","version":1,"kdf":{"alg":"argon2id"}}`,
		"future version":  `{"format":"agentsecrets-vault","version":2}`,
		"unknown kdf":     `{"format":"agentsecrets-vault","version":1,"kdf":{"alg":"scrypt","salt":"MDEyMzQ1Njc4OWFiY2RlZg==","params":{"t":1,"m":64,"p":1,"l":32}}}`,
		"huge kdf memory": `{"format":"agentsecrets-vault","version":1,"kdf":{"alg":"argon2id","salt":"MDEyMzQ1Njc4OWFiY2RlZg==","params":{"t":1,"m":4294967295,"p":1,"l":32}}}`,
		"short salt":      `{"format":"agentsecrets-vault","version":1,"kdf":{"alg":"argon2id","salt":"MDEy","params":{"t":1,"m":64,"p":1,"l":32}}}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, VaultFileName)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			b := openFile(t, dir, "pw")
			err := b.Set(testRef("A"), []byte("v"))
			if err == nil || !strings.Contains(err.Error(), "not a valid vault file") {
				t.Fatalf("Set = %v, want a clear error", err)
			}
			if _, err := b.Get(testRef("A")); err == nil || errors.Is(err, ErrNotFound) {
				t.Fatalf("Get = %v, want a clear error", err)
			}
			if got, _ := os.ReadFile(path); string(got) != content {
				t.Fatal("malformed vault file was changed")
			}
		})
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	mustSet(t, openFile(t, dir, "pw"), testRef("A"), "v")
	for path, want := range map[string]os.FileMode{
		dir:                               0o700,
		filepath.Join(dir, VaultFileName): 0o600,
		filepath.Join(dir, LockFileName):  0o600,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", path, info.Mode().Perm(), want)
		}
	}
}

func TestFileHoldsNoValueInAnyEncoding(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	b := openFile(t, dir, "a passphrase to find")
	values := []string{"sk_live_51HxMarkerValue", "ghp_AnotherMarker0123456789"}
	for i, v := range values {
		mustSet(t, b, testRef("KEY_"+string(rune('A'+i))), v)
	}
	forbidden := []string{"a passphrase to find"}
	for _, v := range values {
		forbidden = append(forbidden, v,
			base64.StdEncoding.EncodeToString([]byte(v)),
			base64.RawStdEncoding.EncodeToString([]byte(v)),
			base64.URLEncoding.EncodeToString([]byte(v)),
			base64.RawURLEncoding.EncodeToString([]byte(v)),
			hex.EncodeToString([]byte(v)),
			strings.ToUpper(hex.EncodeToString([]byte(v))))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range forbidden {
			if bytes.Contains(data, []byte(f)) {
				t.Errorf("%s contains a value or passphrase in some encoding", e.Name())
			}
		}
	}
}

func TestFileKeepsKDFParamsOfExistingFile(t *testing.T) {
	dir := t.TempDir()
	mustSet(t, openFile(t, dir, "pw"), testRef("A"), "v")
	vf, err := parseVaultFile(readVault(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if vf.KDF.Params != testKDFParams || len(vf.KDF.Salt) != seal.SaltSize {
		t.Fatalf("header = %+v", vf.KDF)
	}
	kdfParams = seal.Params{Time: 2, MemoryKiB: 128, Threads: 2, KeyLen: seal.KeySize}
	t.Cleanup(func() { kdfParams = testKDFParams })
	b := openFile(t, dir, "pw")
	wantValue(t, b, testRef("A"), "v")
	mustSet(t, b, testRef("B"), "w")
	vf, _ = parseVaultFile(readVault(t, dir))
	if vf.KDF.Params != testKDFParams {
		t.Fatalf("params of an existing file changed to %+v", vf.KDF.Params)
	}
}

func TestRefValidation(t *testing.T) {
	bad := []Ref{
		{"", "p", "e", "K"},
		{"w", "", "e", "K"},
		{"w", "p", "", "K"},
		{"w", "p", "e", ""},
		{"w/x", "p", "e", "K"},
		{"w", "p", "e", "K/L"},
		{"w", "p\x00", "e", "K"},
		{"w", "p", "e", "K\xff"}, // stored as U+FFFD, then never found again
	}
	backends := []Backend{NewMemory(), openFile(t, t.TempDir(), "pw"), newOSKeychain(DefaultTimeout)}
	for _, b := range backends {
		for _, r := range bad {
			if err := b.Set(r, []byte("v")); err == nil {
				t.Errorf("%s: Set(%q) accepted", b.Name(), r.Account())
			}
			if _, err := b.Get(r); err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("%s: Get(%q) = %v", b.Name(), r.Account(), err)
			}
			if err := b.Delete(r); err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("%s: Delete(%q) = %v", b.Name(), r.Account(), err)
			}
		}
	}
	if got := (Ref{"acme", "api", "production", "STRIPE_KEY"}).Account(); got != "acme/api/production/STRIPE_KEY" {
		t.Errorf("Account = %q", got)
	}
}

func TestOpenRejectsUnknownKindAndMissingDir(t *testing.T) {
	_, err := Open(Options{Dir: t.TempDir(), Kind: "plaintext"})
	if err == nil || !strings.Contains(err.Error(), `"plaintext"`) || !strings.Contains(err.Error(), "AGENTSECRETS_BACKEND") {
		t.Fatalf("Open(plaintext) = %v", err)
	}
	if _, err := Open(Options{Kind: KindFile}); err == nil {
		t.Fatal("Open(file) without a directory succeeded")
	}
}

func FuzzParseVaultFile(f *testing.F) {
	dir := f.TempDir()
	b, err := Open(Options{Dir: dir, Kind: KindFile, Passphrase: fixedPassphrase("pw")})
	if err != nil {
		f.Fatal(err)
	}
	if err := b.Set(testRef("A"), []byte("v")); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(filepath.Join(dir, VaultFileName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{"format":"agentsecrets-vault","version":1}`))
	f.Add([]byte(`{"items":{"a":{"version":-1}}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		vf, err := parseVaultFile(data)
		if err != nil {
			return
		}
		if vf.Items == nil || vf.KDF.Params.Validate() != nil || vf.KDF.Params.KeyLen != seal.KeySize || len(vf.KDF.Salt) < seal.SaltSize {
			t.Fatalf("accepted an inconsistent header %+v", vf.KDF)
		}
	})
}

func BenchmarkFileGet(b *testing.B) {
	dir := b.TempDir()
	be, err := Open(Options{Dir: dir, Kind: KindFile, Passphrase: fixedPassphrase("pw")})
	if err != nil {
		b.Fatal(err)
	}
	if err := be.Set(testRef("A"), []byte("v")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := be.Get(testRef("A")); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFileConcurrentGoroutinesLoseNothing(t *testing.T) {
	dir := t.TempDir()
	b := openFile(t, dir, "pw")
	const workers, each = 4, 25
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := b.Set(testRef(fmt.Sprintf("W%d_%d", w, i)), []byte(streamValue("W", w*each+i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for w := 0; w < workers; w++ {
		for i := 0; i < each; i++ {
			wantValue(t, b, testRef(fmt.Sprintf("W%d_%d", w, i)), streamValue("W", w*each+i))
		}
	}
}
