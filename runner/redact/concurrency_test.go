package redact_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/The-17/agentsecrets/runner/redact"
)

// TestConcurrentUse shares one Set between goroutines redacting whole
// buffers and streams at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	set := redact.NewSet([]byte(testSecret))
	body, inserted := manyOccurrences(t, 64<<10)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			var out []byte
			var n int
			if g%2 == 0 {
				out, n = set.Redact(body)
			} else {
				var err error
				if out, n, err = viaWriter(set, body, []int{g * 100}); err != nil {
					errs <- err.Error()
					return
				}
			}
			if n != inserted || len(leaks(out, testSecret)) > 0 || bytes.Contains(out, []byte(testSecret)) {
				errs <- "wrong output in a concurrent redaction"
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
