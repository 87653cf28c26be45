package keychain

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/The-17/agentsecrets/vault/fsutil"
	"github.com/The-17/agentsecrets/vault/seal"
)

// File names inside Options.Dir.
const (
	VaultFileName = "vault.enc"
	LockFileName  = ".vault.lock"
)

const (
	fileFormat  = "agentsecrets-vault"
	fileVersion = 1
	kdfArgon2id = "argon2id"
	checkText   = "agentsecrets vault passphrase check"
	checkAAD    = "agentsecrets/vault-check/v1"
)

// kdfParams are the Argon2id parameters of newly created vault files.
// Existing files keep the parameters in their header.
var kdfParams = seal.DefaultParams()

// vaultFile is the JSON layout of vault.enc. []byte fields are base64.
type vaultFile struct {
	Format  string          `json:"format"`
	Version int             `json:"version"`
	KDF     kdfHeader       `json:"kdf"`
	Check   []byte          `json:"check"`
	Seq     uint64          `json:"seq"`
	Items   map[string]item `json:"items"`
}

type kdfHeader struct {
	Alg    string      `json:"alg"`
	Salt   []byte      `json:"salt"`
	Params seal.Params `json:"params"`
}

type item struct {
	Version uint64 `json:"version"`
	Blob    []byte `json:"blob"`
}

// fileBackend is the passphrase-encrypted file backend.
type fileBackend struct {
	path, lock string

	passOnce   sync.Once
	passphrase func() ([]byte, error)
	pass       []byte
	passErr    error
}

func newFile(dir string, passphrase func() ([]byte, error)) (*fileBackend, error) {
	if dir == "" {
		return nil, errors.New("keychain: no directory for the encrypted vault file")
	}
	return &fileBackend{
		path:       filepath.Join(dir, VaultFileName),
		lock:       filepath.Join(dir, LockFileName),
		passphrase: passphrase,
	}, nil
}

func (b *fileBackend) Name() string { return KindFile }

func (b *fileBackend) Get(ref Ref) ([]byte, error) {
	if err := ref.validate(); err != nil {
		return nil, err
	}
	vf, err := b.read()
	if err != nil {
		return nil, err
	}
	if vf == nil {
		return nil, errorf(ErrNotFound, "keychain: secret %q not found", ref.Account())
	}
	it, ok := vf.Items[ref.Account()]
	if !ok {
		return nil, errorf(ErrNotFound, "keychain: secret %q not found", ref.Account())
	}
	key, err := b.key(vf)
	if err != nil {
		return nil, err
	}
	value, err := seal.Open(key, it.Blob, itemAAD(ref, it.Version))
	if err != nil {
		return nil, errorf(ErrTampered, "keychain: item %q in %s failed authentication: it was tampered with or moved from another item", ref.Account(), b.path)
	}
	return value, nil
}

// GetMany reads the file once and opens the items of refs with one key.
// The passphrase is asked for only when at least one of them is stored.
func (b *fileBackend) GetMany(refs []Ref) (map[Ref][]byte, error) {
	if err := validateAll(refs); err != nil {
		return nil, err
	}
	vf, err := b.read()
	if err != nil {
		return nil, err
	}
	values := make(map[Ref][]byte, len(refs))
	if vf == nil {
		return values, nil
	}
	var key []byte
	for _, ref := range refs {
		it, ok := vf.Items[ref.Account()]
		if !ok {
			continue
		}
		if key == nil {
			if key, err = b.key(vf); err != nil {
				return nil, err
			}
		}
		value, err := seal.Open(key, it.Blob, itemAAD(ref, it.Version))
		if err != nil {
			return nil, errorf(ErrTampered, "keychain: item %q in %s failed authentication: it was tampered with or moved from another item", ref.Account(), b.path)
		}
		values[ref] = value
	}
	return values, nil
}

func (b *fileBackend) Set(ref Ref, value []byte) error {
	if err := ref.validate(); err != nil {
		return err
	}
	return b.update(func(vf *vaultFile, key []byte) error {
		vf.Seq++
		blob, err := seal.Seal(key, value, itemAAD(ref, vf.Seq))
		if err != nil {
			return err
		}
		vf.Items[ref.Account()] = item{Version: vf.Seq, Blob: blob}
		return nil
	}, true)
}

func (b *fileBackend) Delete(ref Ref) error {
	if err := ref.validate(); err != nil {
		return err
	}
	return b.update(func(vf *vaultFile, _ []byte) error {
		if _, ok := vf.Items[ref.Account()]; !ok {
			return errorf(ErrNotFound, "keychain: secret %q not found", ref.Account())
		}
		delete(vf.Items, ref.Account())
		return nil
	}, false)
}

// Check fails as update would for any change: a vault file that cannot be
// read or parsed, or a passphrase that is missing or does not open it. A
// missing file is fine (a removal then has nothing to remove).
func (b *fileBackend) Check() error {
	vf, err := b.read()
	if err != nil || vf == nil {
		return err
	}
	_, err = b.key(vf)
	return err
}

// update runs change on the freshly read file under the lock and writes
// the result atomically. The passphrase must open the file. needKey says
// whether change seals anything; a missing file is then created.
func (b *fileBackend) update(change func(vf *vaultFile, key []byte) error, needKey bool) error {
	if !needKey && !fileExists(b.path) {
		// Nothing to change: create neither the directory nor the lock.
		return change(&vaultFile{Items: map[string]item{}}, nil)
	}
	unlock, err := fsutil.Lock(b.lock)
	if err != nil {
		return fmt.Errorf("keychain: %v", err)
	}
	defer unlock()
	vf, err := b.read()
	if err != nil {
		return err
	}
	if vf == nil {
		if !needKey {
			vf = &vaultFile{Items: map[string]item{}}
			return change(vf, nil)
		}
		if vf, err = b.create(); err != nil {
			return err
		}
	}
	// Any change to an existing file needs its passphrase, a removal too.
	key, err := b.key(vf)
	if err != nil {
		return err
	}
	if err := change(vf, key); err != nil {
		return err
	}
	data, err := json.MarshalIndent(vf, "", "  ")
	if err != nil {
		return fmt.Errorf("keychain: encode vault file: %v", err)
	}
	if err := fsutil.WriteFileAtomic(b.path, append(data, '\n')); err != nil {
		return fmt.Errorf("keychain: %v", err)
	}
	return nil
}

// read loads the vault file; a missing file gives (nil, nil).
func (b *fileBackend) read() (*vaultFile, error) {
	data, err := os.ReadFile(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keychain: read vault file: %v", err)
	}
	vf, err := parseVaultFile(data)
	if err != nil {
		return nil, fmt.Errorf("keychain: %s is not a valid vault file: %v", b.path, err)
	}
	return vf, nil
}

// parseVaultFile decodes and checks the layout of vault.enc.
func parseVaultFile(data []byte) (*vaultFile, error) {
	var vf vaultFile
	if err := json.Unmarshal(data, &vf); err != nil {
		return nil, err
	}
	switch {
	case vf.Format != fileFormat || vf.Version != fileVersion:
		return nil, fmt.Errorf("format %q version %d, want %q version %d", vf.Format, vf.Version, fileFormat, fileVersion)
	case vf.KDF.Alg != kdfArgon2id:
		return nil, fmt.Errorf("key derivation %q, want %q", vf.KDF.Alg, kdfArgon2id)
	case vf.KDF.Params.KeyLen != seal.KeySize:
		return nil, fmt.Errorf("derived key length %d, want %d", vf.KDF.Params.KeyLen, seal.KeySize)
	case len(vf.KDF.Salt) < seal.SaltSize:
		return nil, fmt.Errorf("salt of %d bytes, want %d", len(vf.KDF.Salt), seal.SaltSize)
	}
	if err := vf.KDF.Params.Validate(); err != nil {
		return nil, err
	}
	if vf.Items == nil {
		vf.Items = map[string]item{}
	}
	return &vf, nil
}

// create returns a new, empty vault file with a fresh salt and check blob.
func (b *fileBackend) create() (*vaultFile, error) {
	salt, err := seal.NewSalt()
	if err != nil {
		return nil, err
	}
	vf := &vaultFile{
		Format:  fileFormat,
		Version: fileVersion,
		KDF:     kdfHeader{Alg: kdfArgon2id, Salt: salt, Params: kdfParams},
		Items:   map[string]item{},
	}
	key, err := b.derive(vf.KDF)
	if err != nil {
		return nil, err
	}
	if vf.Check, err = seal.Seal(key, []byte(checkText), []byte(checkAAD)); err != nil {
		return nil, err
	}
	return vf, nil
}

// key derives the file's key and checks it against the check blob.
func (b *fileBackend) key(vf *vaultFile) ([]byte, error) {
	key, err := b.derive(vf.KDF)
	if err != nil {
		return nil, err
	}
	if _, err := seal.Open(key, vf.Check, []byte(checkAAD)); err != nil {
		return nil, errorf(ErrBadPassphrase, "keychain: wrong passphrase: %s does not open with it (check AGENTSECRETS_PASSPHRASE)", b.path)
	}
	return key, nil
}

func (b *fileBackend) derive(h kdfHeader) ([]byte, error) {
	pass, err := b.getPassphrase()
	if err != nil {
		return nil, err
	}
	return deriveCached(pass, h)
}

// getPassphrase calls the passphrase function at most once.
func (b *fileBackend) getPassphrase() ([]byte, error) {
	b.passOnce.Do(func() {
		if b.passphrase == nil {
			b.passErr = errNoPassphrase()
			return
		}
		pass, err := b.passphrase()
		switch {
		case errors.Is(err, ErrNoPassphrase):
			b.passErr = errNoPassphrase()
		case err != nil:
			b.passErr = fmt.Errorf("keychain: read passphrase: %v", err)
		case len(pass) == 0:
			b.passErr = errNoPassphrase()
		default:
			b.pass = pass
		}
	})
	return b.pass, b.passErr
}

// keyCache holds derived keys for the life of the process, by a hash of
// passphrase, salt and parameters, so Argon2id runs once per process.
var keyCache = struct {
	sync.Mutex
	keys map[[sha256.Size]byte][]byte
}{keys: map[[sha256.Size]byte][]byte{}}

func deriveCached(pass []byte, h kdfHeader) ([]byte, error) {
	hdr, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("keychain: encode kdf header: %v", err)
	}
	digest := sha256.New()
	digest.Write(hdr)
	digest.Write([]byte{0})
	digest.Write(pass)
	var id [sha256.Size]byte
	digest.Sum(id[:0])

	keyCache.Lock()
	defer keyCache.Unlock()
	if key, ok := keyCache.keys[id]; ok {
		return key, nil
	}
	key, err := seal.DeriveKey(pass, h.Salt, h.Params)
	if err != nil {
		return nil, fmt.Errorf("keychain: derive key: %v", err)
	}
	keyCache.keys[id] = key
	return key, nil
}

// itemAAD binds a sealed value to its account and version.
func itemAAD(ref Ref, version uint64) []byte {
	aad, _ := json.Marshal([]any{"agentsecrets/item/v1", ref.Workspace, ref.Project, ref.Environment, ref.Key, version})
	return aad
}

func errNoPassphrase() error {
	return errorf(ErrNoPassphrase, "keychain: no passphrase for the encrypted vault file (set AGENTSECRETS_PASSPHRASE, or use a running OS keychain with AGENTSECRETS_BACKEND=keychain)")
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
