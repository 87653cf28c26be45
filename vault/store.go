package vault

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/The-17/agentsecrets/vault/fsutil"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// DefaultBackendTimeout bounds every keychain call.
const DefaultBackendTimeout = 5 * time.Second

// fingerprintRef names the backend item holding a workspace's fingerprint
// key. Its project name is not a valid project name, so it never collides.
func fingerprintRef(ws string) keychain.Ref {
	return keychain.Ref{Workspace: ws, Project: "_agentsecrets", Environment: "_", Key: "FINGERPRINT_KEY"}
}

// Options configure a Store. The zero value uses the process environment,
// working directory and the backend recorded in the global config.
type Options struct {
	// Home is the agentsecrets home; "" means HomeDir(Getenv).
	Home string
	// Cwd is where project.json is searched from; "" means os.Getwd.
	Cwd string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Backend, when set, is used instead of opening one.
	Backend keychain.Backend
	// Passphrase supplies the file backend's passphrase; nil means
	// $AGENTSECRETS_PASSPHRASE or keychain.ErrNoPassphrase.
	Passphrase func() ([]byte, error)
	// Project and Environment override the resolved context (--project,
	// --env).
	Project, Environment string
	// Warn receives warnings (the storage mode 2 .env notice); nil discards.
	Warn io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BackendTimeout bounds keychain calls; 0 means DefaultBackendTimeout.
	BackendTimeout time.Duration
	// AllowlistChanged, when set, records every change of an allowlist
	// made through the Store (the audit log). It runs under the lock once
	// the index holds the change, so changes are recorded in the order
	// they were made; an error it returns is the change's, wrapped in
	// ErrNotRecorded, and the change stays.
	AllowlistChanged func(AllowlistChange) error
}

// Store is the vault. Opening it is cheap: files are read when needed and
// the backend (which may ask for a passphrase) is opened only by operations
// that read or write values. A Store is meant for one goroutine; separate
// Stores and separate processes are serialised by the lock file.
type Store struct {
	opts    Options
	home    string
	cwd     string
	getenv  func(string) string
	backend keychain.Backend
	fpKeys  map[string][]byte
	warn    io.Writer
	now     func() time.Time
}

// Open prepares a Store. It validates the overrides and touches nothing.
func Open(opts Options) (*Store, error) {
	s := &Store{opts: opts, getenv: opts.Getenv, backend: opts.Backend, fpKeys: map[string][]byte{},
		warn: opts.Warn, now: opts.Now, home: opts.Home, cwd: opts.Cwd}
	if s.getenv == nil {
		s.getenv = os.Getenv
	}
	if s.warn == nil {
		s.warn = io.Discard
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.BackendTimeout == 0 {
		s.opts.BackendTimeout = DefaultBackendTimeout
	}
	var err error
	if s.home == "" {
		if s.home, err = HomeDir(s.getenv); err != nil {
			return nil, err
		}
	}
	if s.cwd == "" {
		if s.cwd, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	if opts.Project != "" {
		if err := ValidateProjectName(opts.Project); err != nil {
			return nil, err
		}
	}
	if opts.Environment != "" {
		if err := ValidateEnvironment(opts.Environment); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Home returns the home directory.
func (s *Store) Home() string { return s.home }

func (s *Store) path(name string) string { return filepath.Join(s.home, name) }

// Config reads the global config (defaults when it does not exist yet).
func (s *Store) Config() (Config, error) { return readConfig(s.path(ConfigFile)) }

// BackendKind is the backend that will be opened: $AGENTSECRETS_BACKEND,
// else the kind recorded at init, else "" (automatic).
// An unknown kind is ErrInvalid, so that a misspelt variable is never
// recorded and a bad recorded kind names the file to fix.
func (s *Store) BackendKind() (string, error) {
	if k := s.getenv("AGENTSECRETS_BACKEND"); k != "" {
		return k, checkKind(k, "AGENTSECRETS_BACKEND", "set AGENTSECRETS_BACKEND to keychain or file, or unset it")
	}
	cfg, err := s.Config()
	if err != nil {
		return "", err
	}
	return cfg.Backend, checkKind(cfg.Backend, s.path(ConfigFile), "set \"backend\" in "+s.path(ConfigFile)+" to the backend that holds the values (keychain or file)")
}

// checkKind accepts "" (automatic), "keychain" and "file". An unknown
// kind is not repeated, only its length: a value may be pasted into the
// variable.
func checkKind(kind, source, hint string) error {
	switch kind {
	case "", keychain.KindKeychain, keychain.KindFile:
		return nil
	}
	return newError(ErrInvalid, hint, "unknown backend %s in %s: not keychain or file", Characters(kind), source)
}

// kindOf is BackendKind for a config already read.
func (s *Store) kindOf(cfg Config) string {
	if k := s.getenv("AGENTSECRETS_BACKEND"); k != "" {
		return k
	}
	return cfg.Backend
}

// Backend opens (once) and returns the value backend. It records the kind
// in the global config the first time one is chosen automatically.
func (s *Store) Backend() (keychain.Backend, error) {
	if s.backend != nil {
		return s.backend, nil
	}
	kind, err := s.BackendKind()
	if err != nil {
		return nil, err
	}
	b, err := s.openBackend(kind)
	if err != nil {
		return nil, err
	}
	if kind == "" && (b.Name() == "keychain" || b.Name() == "file") {
		err = s.update("", "", func(cfg *Config, _ *Index) error {
			if cfg.Backend == "" {
				cfg.Backend = b.Name()
			}
			return nil
		})
	}
	return b, err
}

// openBackend opens (once) the backend of kind without recording it in
// the global config. Code that holds the lock uses it: Backend would take
// the lock again to record an automatic choice.
func (s *Store) openBackend(kind string) (keychain.Backend, error) {
	if s.backend != nil {
		return s.backend, nil
	}
	b, err := keychain.Open(keychain.Options{Dir: s.home, Kind: kind, Passphrase: s.passphrase, Timeout: s.opts.BackendTimeout})
	if err != nil {
		return nil, err
	}
	s.backend = b
	return b, nil
}

func (s *Store) passphrase() ([]byte, error) {
	if s.opts.Passphrase != nil {
		return s.opts.Passphrase()
	}
	if p := s.getenv("AGENTSECRETS_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	return nil, keychain.ErrNoPassphrase
}

// update runs fn on the config and index under the lock, re-read inside
// it, and writes back whichever changed. When project is non-empty and the
// project.json found from the working directory names (ws, project), the
// .env.example (and, in storage mode 2, .env) files are rewritten too.
func (s *Store) update(ws, project string, fn func(cfg *Config, ix *Index) error) error {
	return s.updateThen(ws, project, fn, nil)
}

// updateThen is update with then (when not nil) run under the same lock
// once the index and the config are written: for removals that must wait
// until nothing refers to what they remove.
func (s *Store) updateThen(ws, project string, fn func(cfg *Config, ix *Index) error, then func() error) error {
	return s.updateFiles(func(cfg *Config, ix *Index) (string, string, error) {
		return ws, project, fn(cfg, ix)
	}, then)
}

// updateContext is updateThen for the changes of project.json (project
// use, environment switch, rename): change gets the context and the
// project.json resolved under the lock, so that it never writes back a
// project.json read before another change was written, and returns the
// context whose project files follow it (the zero Context: none).
func (s *Store) updateContext(change func(cfg *Config, ix *Index, ctx Context, pc *ProjectConfig) (Context, error), then func() error) error {
	return s.updateFiles(func(cfg *Config, ix *Index) (string, string, error) {
		ctx, pc, err := s.resolveWith(*cfg)
		if err != nil {
			return "", "", err
		}
		ctx, err = change(cfg, ix, ctx, pc)
		return ctx.Workspace, ctx.Project, err
	}, then)
}

// updateFiles is updateThen where fn names, under the lock, the
// workspace and project whose files follow the change (project "": none).
func (s *Store) updateFiles(fn func(cfg *Config, ix *Index) (ws, project string, err error), then func() error) error {
	unlock, err := fsutil.Lock(s.path(LockFile))
	if err != nil {
		return err
	}
	defer unlock()
	cfg, err := s.Config()
	if err != nil {
		return err
	}
	ix, err := readIndex(s.path(IndexFile))
	if err != nil {
		return err
	}
	cfgBefore, _ := json.Marshal(cfg)
	ixBefore, _ := json.Marshal(ix)
	ws, project, err := fn(&cfg, ix)
	if err != nil {
		return err
	}
	if ixAfter, _ := json.Marshal(ix); !bytes.Equal(ixBefore, ixAfter) {
		if err := writeJSON(s.path(IndexFile), ix); err != nil {
			return err
		}
	}
	if cfgAfter, _ := json.Marshal(cfg); !bytes.Equal(cfgBefore, cfgAfter) {
		if err := writeJSON(s.path(ConfigFile), cfg); err != nil {
			return err
		}
	}
	// The index is written: the project files follow it even when then
	// fails.
	var thenErr error
	if then != nil {
		thenErr = then()
	}
	if project != "" {
		if err := s.writeProjectFiles(ws, project, s.kindOf(cfg), ix); err != nil && thenErr == nil {
			return err
		}
	}
	return thenErr
}

// index reads the index without the lock (it is replaced atomically).
func (s *Store) index() (*Index, error) { return readIndex(s.path(IndexFile)) }

// fingerprint returns the keyed fingerprint of value in workspace ws. It
// runs under the lock; ix is the index being edited (see fingerprintKey).
func (s *Store) fingerprint(b keychain.Backend, ix *Index, ws string, value []byte) (string, error) {
	key, err := s.fingerprintKey(b, ix, ws)
	if err != nil {
		return "", err
	}
	return fingerprintWith(key, value), nil
}

// fingerprintKey returns ws's fingerprint key. When the backend has none
// (deleted, or a new keychain) a new one is made, and every fingerprint of
// ws in ix whose value the backend holds is computed again under it before
// it is stored: fingerprints under two keys would report equal values as
// different. One whose value is missing keeps its old fingerprint, which
// matches none made under the new key.
func (s *Store) fingerprintKey(b keychain.Backend, ix *Index, ws string) ([]byte, error) {
	if key := s.fpKeys[ws]; key != nil {
		return key, nil
	}
	key, err := b.Get(fingerprintRef(ws))
	if errors.Is(err, keychain.ErrNotFound) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := refingerprint(b, ix, ws, key); err != nil {
			return nil, err
		}
		err = b.Set(fingerprintRef(ws), key)
	}
	if err != nil {
		return nil, err
	}
	s.fpKeys[ws] = key
	return key, nil
}

// refingerprint computes the fingerprints of ws's entries in ix again
// under key, reading their values from b.
func refingerprint(b keychain.Backend, ix *Index, ws string, key []byte) error {
	w := ix.workspace(ws, false)
	if w == nil {
		return nil
	}
	for _, pname := range sortedKeys(w.Projects) {
		p := ix.project(ws, pname)
		if p == nil {
			continue
		}
		for _, env := range sortedKeys(p.Environments) {
			for _, k := range p.keys(env) {
				e := p.Environments[env][k]
				if e == nil {
					continue
				}
				v, err := b.Get(keychain.Ref{Workspace: ws, Project: pname, Environment: env, Key: k})
				if errors.Is(err, keychain.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				e.Fingerprint = fingerprintWith(key, v)
			}
		}
	}
	return nil
}

func fingerprintWith(key, value []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(value)
	return hex.EncodeToString(m.Sum(nil))
}

func ref(ctx Context, env, key string) keychain.Ref {
	return keychain.Ref{Workspace: ctx.Workspace, Project: ctx.Project, Environment: env, Key: key}
}
