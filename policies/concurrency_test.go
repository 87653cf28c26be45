package policies

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentCalls runs many chains at once, mixed with trapping
// guests; every call must see only its own secret.
func TestConcurrentCalls(t *testing.T) {
	e := newTestEngine(t, Config{MaxIdle: 2})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				val := fmt.Sprintf("value-%d-%d", g, i)
				call := newCall(t, "https://api.example.com/", map[string]string{"K": val})
				if g%4 == 0 {
					err := e.Run(ctx, []Spec{{Name: guest("trap")}}, call)
					if !errors.Is(err, ErrPolicyFailed) {
						t.Errorf("trap: %v", err)
						return
					}
					continue
				}
				specs := []Spec{spec(t, "bearer", "K"), spec(t, "query", "k=K"), {Name: guest("handles"), Params: map[string]string{"key": "K"}}}
				if err := e.Run(ctx, specs, call); err != nil {
					t.Error(err)
					return
				}
				if call.Req.Header.Get("Authorization") != "Bearer "+val || call.Req.URL.Query().Get("k") != val {
					t.Errorf("call %d/%d got another call's secret", g, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	p, _ := e.load(ctx, "bearer")
	if len(p.idle) > 2 {
		t.Errorf("pool keeps %d idle instances, MaxIdle is 2", len(p.idle))
	}
}
