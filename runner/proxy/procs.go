package proxy

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
)

// procsGovernor sets how many threads run Go code from how busy the proxy
// is. With few requests in flight, every CPU may run Go code: a thread
// that is idle or spinning picks up each network wakeup at once, which is
// what a lone client's latency needs. With more requests in flight than
// CPUs, half the CPUs: the proxy shares the machine with its clients (and
// often its upstreams), and Go's scheduler then spends as much CPU handing
// work between threads and waking them as the proxy spends on requests —
// on a 2-CPU machine, one thread served a quarter more requests at 32
// connections, while at 1 connection two threads answered 20–80 µs sooner.
//
// The governor looks at the peak number of requests in flight over each
// interval and changes GOMAXPROCS only when its choice changes (a change
// stops the world for a moment).
type procsGovernor struct {
	cpus     int
	inFlight atomic.Int64
	peak     atomic.Int64
	current  int
}

// governorInterval is how often the governor decides.
const governorInterval = 250 * time.Millisecond

func newProcsGovernor(cpus int) *procsGovernor {
	return &procsGovernor{cpus: cpus, current: cpus}
}

// begin and end bracket a request.
func (g *procsGovernor) begin() {
	n := g.inFlight.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (g *procsGovernor) end() { g.inFlight.Add(-1) }

// procsFor is the number of threads for a peak of in-flight requests.
func procsFor(peak int64, cpus int) int {
	if peak > int64(cpus) {
		return max(1, cpus/2)
	}
	return cpus
}

// decide starts a new interval and returns the threads for the one that
// ended.
func (g *procsGovernor) decide() int {
	peak := g.peak.Swap(g.inFlight.Load())
	return procsFor(peak, g.cpus)
}

// run applies decide's choice every interval until ctx is done, then
// restores the number of threads it found.
func (g *procsGovernor) run(ctx context.Context, interval time.Duration) {
	before := runtime.GOMAXPROCS(g.current)
	defer runtime.GOMAXPROCS(before)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if want := g.decide(); want != g.current {
				runtime.GOMAXPROCS(want)
				g.current = want
			}
		}
	}
}
