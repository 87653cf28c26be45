package policies

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/fsutil"
	"github.com/The-17/agentsecrets/wasm"
)

// Registry stores custom policies under names, in a directory (e.g.
// ~/.agentsecrets/policies): each module once, as sha256-<hex>.wasm, and an
// index.json mapping names to digests. Modules are validated on Add and
// their digest checked on Get. Safe across processes (file lock).
type Registry struct {
	dir string
}

// Entry describes a registered policy.
type Entry struct {
	Name   string    `json:"name"`
	SHA256 string    `json:"sha256"`
	Size   int       `json:"size"`
	Added  time.Time `json:"added"`
}

type index struct {
	Policies map[string]Entry `json:"policies"`
}

// NewRegistry returns a registry kept in dir (created on first Add).
func NewRegistry(dir string) *Registry { return &Registry{dir: dir} }

// Dir returns the registry's directory.
func (r *Registry) Dir() string { return r.dir }

// ValidName reports whether name may be registered: lower-case letters,
// digits, '-' and '_', starting with a letter, at most 64 bytes, and not a
// built-in's name.
func ValidName(name string) bool {
	if name == "" || len(name) > 64 || name[0] < 'a' || name[0] > 'z' || wasm.IsBuiltin(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// NameFault says why name, which ValidName refuses, cannot be registered:
// the words of an error that does not repeat the name.
func NameFault(name string) string {
	switch {
	case wasm.IsBuiltin(name):
		return "it is a built-in policy's name"
	case name == "":
		return "it is empty"
	case len(name) > 64:
		return "it is longer than 64 bytes"
	case strings.ContainsFunc(name, func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_') }):
		return "it holds characters other than lower-case letters, digits, '-' and '_'"
	}
	return "it does not start with a lower-case letter"
}

// invalidName says that name, which ValidName refuses, is not a policy
// name. A built-in's name is quoted; any other only by its length and what
// is wrong with it (a value may be typed where a name goes).
func invalidName(name string) string {
	if wasm.IsBuiltin(name) {
		return fmt.Sprintf("invalid policy name %q: %s", name, NameFault(name))
	}
	return "invalid policy name " + vault.Characters(name) + ": " + NameFault(name)
}

// notRegistered is the error of Get and Remove for a name not registered:
// quoted when it is a policy name or a built-in's, else invalidName.
func notRegistered(name string) error {
	if !ValidName(name) && !wasm.IsBuiltin(name) {
		return fmt.Errorf("%w: %s", ErrPolicyNotFound, invalidName(name))
	}
	return fmt.Errorf("%w: %q is not registered", ErrPolicyNotFound, name)
}

// ErrPolicyExists: Add was given a name registered with other code.
var ErrPolicyExists = errors.New("policies: a policy of that name is registered with other code")

// Add validates code as a policy and registers it under name. A name
// registered with other code is refused (ErrPolicyExists, see Replace):
// the code a name runs, with the secrets it opens, changes only when asked.
// The same code again changes nothing and returns the existing entry.
func (r *Registry) Add(name string, code []byte) (Entry, error) {
	e, _, err := r.add(name, code, false)
	return e, err
}

// Replace is Add that may replace the code registered under name; it
// returns the entry it replaced, if any (zero when name was new).
func (r *Registry) Replace(name string, code []byte) (e, old Entry, err error) {
	return r.add(name, code, true)
}

func (r *Registry) add(name string, code []byte, replace bool) (Entry, Entry, error) {
	if !ValidName(name) {
		return Entry{}, Entry{}, errors.New("policies: " + invalidName(name))
	}
	info, err := Inspect(code)
	if err != nil {
		return Entry{}, Entry{}, err
	}
	if !info.Valid {
		return Entry{}, Entry{}, fmt.Errorf("policies: %q is not a valid policy: %s", name, info.Problem)
	}
	unlock, err := fsutil.Lock(filepath.Join(r.dir, ".lock"))
	if err != nil {
		return Entry{}, Entry{}, fmt.Errorf("policies: registry: %w", err)
	}
	defer unlock()
	idx, err := r.readIndex()
	if err != nil {
		return Entry{}, Entry{}, err
	}
	old, had := idx.Policies[name]
	switch {
	case had && old.SHA256 == info.SHA256:
		// The same code again: the entry stays, and a module modified or
		// removed on disk is written back (Get's advice is to add it again).
		if !r.blobIntact(old.SHA256) {
			if err := fsutil.WriteFileAtomic(r.blobPath(old.SHA256), code); err != nil {
				return Entry{}, Entry{}, fmt.Errorf("policies: registry: %w", err)
			}
		}
		return old, Entry{}, nil
	case had && !replace:
		return Entry{}, Entry{}, fmt.Errorf("%w: %q (sha256 %.12s…)", ErrPolicyExists, name, old.SHA256)
	}
	if err := fsutil.WriteFileAtomic(r.blobPath(info.SHA256), code); err != nil {
		return Entry{}, Entry{}, fmt.Errorf("policies: registry: %w", err)
	}
	e := Entry{Name: name, SHA256: info.SHA256, Size: len(code), Added: time.Now().UTC().Truncate(time.Second)}
	idx.Policies[name] = e
	if err := r.writeIndex(idx); err != nil {
		return Entry{}, Entry{}, err
	}
	if had {
		r.removeUnreferenced(idx, old.SHA256)
	}
	return e, old, nil
}

// Remove unregisters name; it wraps ErrPolicyNotFound when absent.
func (r *Registry) Remove(name string) error {
	unlock, err := fsutil.Lock(filepath.Join(r.dir, ".lock"))
	if err != nil {
		return fmt.Errorf("policies: registry: %w", err)
	}
	defer unlock()
	idx, err := r.readIndex()
	if err != nil {
		return err
	}
	e, ok := idx.Policies[name]
	if !ok {
		return notRegistered(name)
	}
	delete(idx.Policies, name)
	if err := r.writeIndex(idx); err != nil {
		return err
	}
	r.removeUnreferenced(idx, e.SHA256)
	return nil
}

// List returns the registered policies sorted by name.
func (r *Registry) List() ([]Entry, error) {
	idx, err := r.readIndex()
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(idx.Policies))
	for _, e := range idx.Policies {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get returns the module registered as name, after checking its digest.
func (r *Registry) Get(name string) ([]byte, Entry, error) {
	idx, err := r.readIndex()
	if err != nil {
		return nil, Entry{}, err
	}
	e, ok := idx.Policies[name]
	if !ok {
		return nil, Entry{}, notRegistered(name)
	}
	code, err := os.ReadFile(r.blobPath(e.SHA256))
	if err != nil {
		return nil, Entry{}, fmt.Errorf("policies: registered policy %q: module missing (%w); add it again", name, errors.Unwrap(err))
	}
	sum := sha256.Sum256(code)
	if hex.EncodeToString(sum[:]) != e.SHA256 {
		return nil, Entry{}, fmt.Errorf("policies: registered policy %q: module does not match its digest (modified on disk); add it again", name)
	}
	return code, e, nil
}

// ReadModuleFile reads a policy file given by the user (policy add,
// policy inspect). A device, a FIFO, a directory or a file larger than
// MaxPolicyFile is refused before it is read: reading /dev/zero would not
// end and opening a FIFO would block. A path that is not there is not
// repeated (see statModuleFile).
func ReadModuleFile(path string) ([]byte, error) {
	errKind := notModuleFile(path)
	st, err := statModuleFile(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > MaxPolicyFile {
		return nil, errKind
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policies: policy file %q: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	if fst, err := f.Stat(); err != nil || !os.SameFile(st, fst) {
		return nil, errKind
	}
	code, err := io.ReadAll(io.LimitReader(f, MaxPolicyFile+1))
	if err != nil {
		return nil, fmt.Errorf("policies: policy file %q: %v", path, err)
	}
	if len(code) > MaxPolicyFile {
		return nil, errKind
	}
	return code, nil
}

// statModuleFile stats a policy file. A path that cannot be looked at
// (not there, not allowed) is not repeated, only its length: a value may be
// typed where the file goes. A file that is there is named by the errors
// that follow.
func statModuleFile(path string) (os.FileInfo, error) {
	st, err := os.Stat(path)
	if err == nil {
		return st, nil
	}
	cause := errors.Unwrap(err)
	if cause == nil {
		cause = err
	}
	why := cause.Error()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		why = "no such file"
	case errors.Is(err, fs.ErrPermission):
		why = "permission denied"
	}
	return nil, &fileError{msg: "policies: policy file " + vault.Characters(path) + ": " + why, err: cause}
}

// fileError is a policy file refused without its path; it wraps the cause
// (errors.Is(err, fs.ErrNotExist) holds).
type fileError struct {
	msg string
	err error
}

func (e *fileError) Error() string { return e.msg }
func (e *fileError) Unwrap() error { return e.err }

// notModuleFile refuses a path that is not a regular file of at most
// MaxPolicyFile bytes.
func notModuleFile(path string) error {
	return fmt.Errorf("policies: policy file %q: not a regular file of at most %d MiB", path, MaxPolicyFile>>20)
}

// blobIntact reports whether the module stored for digest sum is there
// and matches it.
func (r *Registry) blobIntact(sum string) bool {
	code, err := os.ReadFile(r.blobPath(sum))
	if err != nil {
		return false
	}
	got := sha256.Sum256(code)
	return hex.EncodeToString(got[:]) == sum
}

func (r *Registry) blobPath(sum string) string {
	return filepath.Join(r.dir, "sha256-"+sum+".wasm")
}

func (r *Registry) readIndex() (index, error) {
	idx := index{Policies: map[string]Entry{}}
	b, err := os.ReadFile(filepath.Join(r.dir, "index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return idx, fmt.Errorf("policies: registry index: %w", errors.Unwrap(err))
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("policies: registry index %q is corrupt: %v", filepath.Join(r.dir, "index.json"), err)
	}
	if idx.Policies == nil {
		idx.Policies = map[string]Entry{}
	}
	return idx, nil
}

func (r *Registry) writeIndex(idx index) error {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("policies: registry index: %v", err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(r.dir, "index.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("policies: registry index: %w", err)
	}
	return nil
}

func (r *Registry) removeUnreferenced(idx index, sum string) {
	for _, e := range idx.Policies {
		if e.SHA256 == sum {
			return
		}
	}
	_ = os.Remove(r.blobPath(sum))
}
