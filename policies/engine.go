package policies

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/The-17/agentsecrets/hostfns"
	"github.com/The-17/agentsecrets/vault/fsutil"
	"github.com/The-17/agentsecrets/wasm"
)

// Defaults of [Config].
const (
	DefaultMemoryLimitPages   = 256 // 16 MiB
	DefaultTimeout            = time.Second
	DefaultBuiltinTimeout     = 100 * time.Millisecond
	DefaultInstantiateTimeout = 5 * time.Second
	DefaultMaxModules         = 32
)

// Config tunes an [Engine]. The zero value is usable: no disk cache and the
// defaults above.
type Config struct {
	// CacheDir holds compiled machine code across processes
	// (e.g. ~/.agentsecrets/cache); empty disables the disk cache.
	CacheDir string
	// MemoryLimitPages caps each instance's memory, in 64 KiB pages.
	MemoryLimitPages uint32
	// Timeout bounds each on_request/on_response of a custom policy.
	Timeout time.Duration
	// BuiltinTimeout bounds the chain's built-in policies: the context is
	// checked before each one runs. Built-ins are straight-line code (no
	// loops, no recursion), so they cannot overrun it by themselves.
	BuiltinTimeout time.Duration
	// InstantiateTimeout bounds creating an instance (a Go guest runs its
	// runtime initialisation then).
	InstantiateTimeout time.Duration
	// MaxIdle is the number of idle instances kept per policy; 0 means
	// 2*GOMAXPROCS.
	MaxIdle int
	// MaxModules is the number of custom modules (distinct contents,
	// whatever their paths or names) kept compiled; the least recently
	// used is closed beyond it. 0 means DefaultMaxModules.
	MaxModules int
	// Registry resolves registered custom policy names; nil allows only
	// built-ins and .wasm file paths.
	Registry *Registry
}

// Engine compiles, pools and runs policies. It is safe for concurrent use;
// an instance is never used by two calls at once.
type Engine struct {
	cfg Config
	// sandbox runs custom policies: termination checks for deadlines,
	// memory limit, WASI without filesystem, environment or arguments.
	sandbox wazero.Runtime
	// builtin runs the embedded built-ins, which are loop-free; it has no
	// disk cache so the cache only ever holds sandbox-instrumented code.
	builtin wazero.Runtime
	cache   wazero.CompilationCache

	sandboxConfig wazero.ModuleConfig
	builtinConfig wazero.ModuleConfig

	mu      sync.RWMutex
	closed  bool
	byName  map[string]*policy   // built-ins
	byHash  map[[32]byte]*policy // custom modules by content, at most cfg.MaxModules
	byFile  map[string]fileStamp // path -> last seen digest, at most maxFiles
	loading sync.Mutex
	clock   atomic.Uint64 // orders the uses of custom modules (policy.lastUse)
}

type fileStamp struct {
	size    int64
	modTime time.Time
	sum     [32]byte
}

// NewEngine creates an Engine. Close it to release compiled code.
func NewEngine(ctx context.Context, cfg Config) (*Engine, error) {
	cfg = withDefaults(cfg)
	e := &Engine{
		cfg:    cfg,
		byName: map[string]*policy{},
		byHash: map[[32]byte]*policy{},
		byFile: map[string]fileStamp{},
	}
	sandboxRC := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(cfg.MemoryLimitPages).
		WithCloseOnContextDone(true)
	if cfg.CacheDir != "" {
		if err := fsutil.EnsureDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("policies: compile cache: %w", err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("policies: compile cache %q: %w", cfg.CacheDir, err)
		}
		e.cache = cache
		sandboxRC = sandboxRC.WithCompilationCache(cache)
	}
	e.sandbox = wazero.NewRuntimeWithConfig(ctx, sandboxRC)
	e.builtin = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithMemoryLimitPages(cfg.MemoryLimitPages))
	for _, r := range []wazero.Runtime{e.sandbox, e.builtin} {
		if _, err := hostfns.Instantiate(ctx, r); err != nil {
			e.Close(ctx)
			return nil, err
		}
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.sandbox); err != nil {
		e.Close(ctx)
		return nil, fmt.Errorf("policies: wasi: %w", err)
	}
	// No WithFS, WithEnv or WithArgs: no preopens, empty environment and
	// arguments; stdio discarded; clocks are wazero's fakes.
	e.sandboxConfig = wazero.NewModuleConfig().
		WithName("").
		WithRandSource(rand.Reader).
		WithStartFunctions("_initialize")
	e.builtinConfig = wazero.NewModuleConfig().WithName("").WithStartFunctions()
	return e, nil
}

func withDefaults(cfg Config) Config {
	if cfg.MemoryLimitPages == 0 {
		cfg.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BuiltinTimeout <= 0 {
		cfg.BuiltinTimeout = DefaultBuiltinTimeout
	}
	if cfg.InstantiateTimeout <= 0 {
		cfg.InstantiateTimeout = DefaultInstantiateTimeout
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.MaxModules <= 0 {
		cfg.MaxModules = DefaultMaxModules
	}
	return cfg
}

// Close releases every compiled module and instance.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	var errs []error
	for _, r := range []wazero.Runtime{e.sandbox, e.builtin} {
		if r != nil {
			errs = append(errs, r.Close(ctx))
		}
	}
	if e.cache != nil {
		errs = append(errs, e.cache.Close(ctx))
	}
	return errors.Join(errs...)
}

var errClosed = errors.New("policies: engine closed")

// Load resolves and compiles the policy called name (a built-in, a path to
// a .wasm file, or a registered name) and validates it. Run loads lazily;
// Load lets a caller fail early.
func (e *Engine) Load(ctx context.Context, name string) error {
	_, err := e.load(ctx, name)
	return err
}

func (e *Engine) load(ctx context.Context, name string) (*policy, error) {
	e.mu.RLock()
	p, ok := e.byName[name]
	closed := e.closed
	e.mu.RUnlock()
	if closed {
		return nil, errClosed
	}
	if ok {
		return p, nil
	}
	if code, ok := wasm.Builtin(name); ok {
		return e.compileBuiltin(ctx, name, code)
	}
	if IsPath(name) {
		return e.loadFile(ctx, name)
	}
	if e.cfg.Registry != nil {
		code, _, err := e.cfg.Registry.Get(name)
		if err == nil {
			return e.compileCustom(ctx, name, code, sha256.Sum256(code))
		}
		if !errors.Is(err, ErrPolicyNotFound) {
			return nil, err
		}
	}
	if !ValidName(name) { // not repeated: a value may be typed where a name goes
		return nil, fmt.Errorf("%w: %s", ErrPolicyNotFound, invalidName(name))
	}
	return nil, fmt.Errorf("%w: %q is not a built-in, a registered name or a .wasm file", ErrPolicyNotFound, name)
}

// IsPath reports whether a policy name is a file path (it holds a slash
// or ends in .wasm) rather than a built-in or registered name.
func IsPath(name string) bool {
	return strings.ContainsAny(name, `/\`) || strings.HasSuffix(name, ".wasm")
}

// MaxPolicyFile bounds the size of a policy file (a Go-built guest is about
// 2 MB); a device or a larger file is refused before it is read.
const MaxPolicyFile = 64 << 20

func (e *Engine) loadFile(ctx context.Context, path string) (*policy, error) {
	st, err := statModuleFile(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > MaxPolicyFile {
		return nil, notModuleFile(path)
	}
	e.mu.RLock()
	seen, ok := e.byFile[path]
	var p *policy
	if ok && seen.size == st.Size() && seen.modTime.Equal(st.ModTime()) {
		p = e.byHash[seen.sum]
	}
	e.mu.RUnlock()
	if p != nil {
		e.touch(p)
		return p, nil
	}
	code, err := ReadModuleFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(code)
	p, err = e.compileCustom(ctx, path, code, sum)
	if err != nil {
		return nil, err
	}
	e.rememberFile(path, fileStamp{size: st.Size(), modTime: st.ModTime(), sum: sum})
	return p, nil
}

// rememberFile records the digest of the file at path, forgetting another
// file when maxFiles are known (many paths may hold one module).
func (e *Engine) rememberFile(path string, st fileStamp) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.byFile[path]; !ok && len(e.byFile) >= e.maxFiles() {
		for other := range e.byFile {
			delete(e.byFile, other)
			break
		}
	}
	e.byFile[path] = st
}

func (e *Engine) maxFiles() int { return 4 * e.cfg.MaxModules }

func (e *Engine) compileBuiltin(ctx context.Context, name string, code []byte) (*policy, error) {
	e.loading.Lock()
	defer e.loading.Unlock()
	if p := e.lookupName(name); p != nil {
		return p, nil
	}
	p, err := e.compile(ctx, e.builtin, name, code)
	if err != nil {
		return nil, err
	}
	p.builtin = true
	p.timeout = e.cfg.BuiltinTimeout
	p.config = e.builtinConfig
	e.mu.Lock()
	e.byName[name] = p
	e.mu.Unlock()
	return p, nil
}

func (e *Engine) lookupName(name string) *policy {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.byName[name]
}

func (e *Engine) compileCustom(ctx context.Context, name string, code []byte, sum [32]byte) (*policy, error) {
	e.loading.Lock()
	defer e.loading.Unlock()
	e.mu.RLock()
	p := e.byHash[sum]
	e.mu.RUnlock()
	if p != nil {
		e.touch(p)
		return p, nil
	}
	p, err := e.compile(ctx, e.sandbox, name, code)
	if err != nil {
		return nil, err
	}
	p.timeout = e.cfg.Timeout
	p.config = e.sandboxConfig
	p.sum, p.custom = sum, true
	e.touch(p)
	e.mu.Lock()
	e.byHash[sum] = p
	victim := e.dropLeastRecentlyUsed()
	e.mu.Unlock()
	if victim != nil {
		victim.evict(ctx)
	}
	return p, nil
}

// touch records a use of a custom module.
func (e *Engine) touch(p *policy) { p.lastUse.Store(e.clock.Add(1)) }

// dropLeastRecentlyUsed removes the least recently used custom module (and
// the files that hold it) when more than cfg.MaxModules are cached and
// returns it for eviction. e.mu is held.
func (e *Engine) dropLeastRecentlyUsed() *policy {
	if len(e.byHash) <= e.cfg.MaxModules {
		return nil
	}
	var victim *policy
	for _, p := range e.byHash {
		if victim == nil || p.lastUse.Load() < victim.lastUse.Load() {
			victim = p
		}
	}
	delete(e.byHash, victim.sum)
	for path, st := range e.byFile {
		if st.sum == victim.sum {
			delete(e.byFile, path)
		}
	}
	return victim
}

func (e *Engine) compile(ctx context.Context, r wazero.Runtime, name string, code []byte) (*policy, error) {
	m, err := r.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("policies: policy %q: cannot compile: %v", name, err)
	}
	if err := validate(m, code); err != nil {
		m.Close(ctx)
		return nil, fmt.Errorf("policies: policy %q: %s", name, strings.TrimPrefix(err.Error(), "policies: "))
	}
	_, onResp := m.ExportedFunctions()["on_response"]
	return &policy{
		name:          name,
		runtime:       r,
		compiled:      m,
		hasOnResponse: onResp,
		maxIdle:       e.cfg.MaxIdle,
		instTimeout:   e.cfg.InstantiateTimeout,
	}, nil
}

// acquire loads the policy called name for a run, which releases it
// after: a module evicted meanwhile keeps its compiled code until then.
// One evicted between its load and acquire is loaded again.
func (e *Engine) acquire(ctx context.Context, name string) (*policy, error) {
	for range 3 {
		p, err := e.load(ctx, name)
		if err != nil {
			return nil, err
		}
		if p.acquire() {
			return p, nil
		}
	}
	return nil, fmt.Errorf("policies: policy %q: evicted as it loaded; more than %d custom policies are in use at once", name, e.cfg.MaxModules)
}
