package proxy

import (
	"context"
	"runtime"
	"testing"
	"time"
)

func TestProcsFor(t *testing.T) {
	for _, tc := range []struct {
		peak int64
		cpus int
		want int
	}{
		{0, 2, 2},
		{1, 2, 2},
		{2, 2, 2},
		{3, 2, 1},
		{32, 2, 1},
		{1, 1, 1},
		{5, 1, 1},
		{8, 8, 8},
		{9, 8, 4},
		{200, 16, 8},
	} {
		if got := procsFor(tc.peak, tc.cpus); got != tc.want {
			t.Errorf("procsFor(%d, %d) = %d, want %d", tc.peak, tc.cpus, got, tc.want)
		}
	}
}

// TestProcsGovernorFollowsLoad: the peak of an interval decides, and the
// next interval starts from the requests still in flight.
func TestProcsGovernorFollowsLoad(t *testing.T) {
	g := newProcsGovernor(4)
	if got := g.decide(); got != 4 {
		t.Fatalf("idle: %d threads, want 4", got)
	}
	for range 6 {
		g.begin()
	}
	for range 5 {
		g.end()
	}
	if got := g.decide(); got != 2 {
		t.Errorf("after a peak of 6 requests: %d threads, want 2", got)
	}
	if got := g.decide(); got != 4 {
		t.Errorf("with 1 request left in flight: %d threads, want 4", got)
	}
}

// TestProcsGovernorRestores: run changes GOMAXPROCS under load and puts
// back what it found when it stops.
func TestProcsGovernorRestores(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	g := newProcsGovernor(4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.run(ctx, time.Millisecond); close(done) }()
	for range 10 {
		g.begin()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.GOMAXPROCS(0) != 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("under load GOMAXPROCS is %d, want 2", got)
	}
	cancel()
	<-done
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("after run GOMAXPROCS is %d, want %d back", got, before)
	}
}
