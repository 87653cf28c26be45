package runner

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/The-17/agentsecrets/policies"
)

// TestConcurrentCallsKeepTheirCredentials: one Runner serving many calls
// at once sends each call's own credential, and only it, and scrubs each
// response.
func TestConcurrentCallsKeepTheirCredentials(t *testing.T) {
	const workers, perWorker = 8, 15
	up := newUpstream(t, nil)
	values := map[string]string{}
	for w := 0; w < workers; w++ {
		// Distinct values: no run of 16 bytes is shared between two.
		values[fmt.Sprintf("KEY_%d", w)] = fmt.Sprintf("%x+/=&%%\"é", sha256.Sum256([]byte{byte(w)}))[40:]
	}
	v := newFakeVault([]string{"127.0.0.1"}, values)
	r, sink, _ := newTestRunner(t, v)
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("KEY_%d", w)
			for i := 0; i < perWorker; i++ {
				res, err := r.Do(context.Background(), &Call{URL: fmt.Sprintf("%s/w/%d/%d", up.URL, w, i),
					Policies: []policies.Spec{spec("bearer", "key", key), spec("query", "param", "k", "key", key)}})
				if err != nil {
					errs <- err
					return
				}
				out := output(t, res)
				if found := leakedForms(out, []byte(values[key])); len(found) > 0 {
					errs <- fmt.Errorf("worker %d: response leaks its secret", w)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	reqs := up.requests()
	if len(reqs) != workers*perWorker {
		t.Fatalf("%d requests, want %d", len(reqs), workers*perWorker)
	}
	for _, rq := range reqs {
		var w, i int
		if _, err := fmt.Sscanf(strings.SplitN(rq.URL, "?", 2)[0], "/w/%d/%d", &w, &i); err != nil {
			t.Fatalf("URL %q: %v", rq.URL, err)
		}
		want := values[fmt.Sprintf("KEY_%d", w)]
		if rq.Header.Get("Authorization") != "Bearer "+want || !strings.Contains(rq.URL, "k=") {
			t.Errorf("request %s carries another call's credential or none", strings.SplitN(rq.URL, "?", 2)[0])
		}
		for other, val := range values {
			if val != want && carriesCredential(rq, val) {
				t.Errorf("request for worker %d carries %s", w, other)
			}
		}
	}
	if n := len(sink.Events()); n != workers*perWorker {
		t.Errorf("%d audit events", n)
	}
}
