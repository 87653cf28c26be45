package policies

import (
	"context"
	"fmt"
	"sync"
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

	mu   sync.Mutex
	idle []*instance
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
// full.
func (p *policy) put(in *instance) {
	if in.mod.IsClosed() {
		return
	}
	p.mu.Lock()
	if len(p.idle) < p.maxIdle {
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
