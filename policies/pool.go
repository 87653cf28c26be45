package policies

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// policy is one compiled module and its pool of idle instances.
type policy struct {
	name          string
	builtin       bool
	runtime       wazero.Runtime
	compiled      wazero.CompiledModule
	config        wazero.ModuleConfig
	timeout       time.Duration
	instTimeout   time.Duration
	hasOnResponse bool
	maxIdle       int
	sum           [32]byte      // content hash of a custom module
	custom        bool          // a custom module: the engine may evict it
	lastUse       atomic.Uint64 // the engine's clock when last loaded

	mu      sync.Mutex
	idle    []*instance
	refs    int  // runs using the policy (acquire)
	evicted bool // out of the engine's cache: closed once refs is 0
}

// instance is a module instance used by one call at a time.
type instance struct {
	mod        api.Module
	onRequest  api.Function
	onResponse api.Function
	stack      [1]uint64
}

// get takes an idle instance or creates one.
func (p *policy) get(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		in := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return in, nil
	}
	p.mu.Unlock()
	return p.instantiate(ctx)
}

func (p *policy) instantiate(ctx context.Context) (*instance, error) {
	ictx := ctx
	if !p.builtin {
		var cancel context.CancelFunc
		ictx, cancel = context.WithTimeout(ctx, p.instTimeout)
		defer cancel()
	}
	mod, err := p.runtime.InstantiateModule(ictx, p.compiled, p.config)
	if err != nil {
		return nil, fmt.Errorf("policies: policy %q: instantiate: %v", p.name, err)
	}
	return &instance{
		mod:        mod,
		onRequest:  mod.ExportedFunction("on_request"),
		onResponse: mod.ExportedFunction("on_response"),
	}, nil
}

// put returns a healthy instance to the pool, closing it when the pool is
// full or the policy was evicted.
func (p *policy) put(in *instance) {
	if in.mod.IsClosed() {
		return
	}
	p.mu.Lock()
	if !p.evicted && len(p.idle) < p.maxIdle {
		p.idle = append(p.idle, in)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	in.discard()
}

// discard closes an instance that must not be reused (it trapped, timed
// out, or the pool is full).
func (in *instance) discard() {
	_ = in.mod.Close(context.Background())
}

// acquire marks the policy in use by a run; false once it was evicted. A
// built-in is never evicted: it needs no count.
func (p *policy) acquire() bool {
	if !p.custom {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.evicted {
		return false
	}
	p.refs++
	return true
}

// release ends a run acquire began; the last run of an evicted policy
// closes its compiled code.
func (p *policy) release() {
	if !p.custom {
		return
	}
	p.mu.Lock()
	p.refs--
	unused := p.evicted && p.refs == 0
	p.mu.Unlock()
	if unused {
		_ = p.compiled.Close(context.Background())
	}
}

// evict closes the idle instances and, unless a run still uses it, the
// compiled code (then the last release does); the instances running
// return to no pool.
func (p *policy) evict(ctx context.Context) {
	p.mu.Lock()
	p.evicted = true
	idle := p.idle
	p.idle = nil
	unused := p.refs == 0
	p.mu.Unlock()
	for _, in := range idle {
		in.discard()
	}
	if unused {
		_ = p.compiled.Close(ctx)
	}
}
