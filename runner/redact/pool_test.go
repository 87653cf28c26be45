package redact_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/The-17/agentsecrets/runner/redact"
)

// TestReadersReusingBuffers runs Readers one after another, on goroutines
// at once (run with -race), over streams of different lengths that end
// normally or fail with a possible secret prefix held: every stream gives
// exactly the whole-buffer output, so a buffer a Reader hands back to the
// pool never carries bytes of its stream into the next one.
func TestReadersReusingBuffers(t *testing.T) {
	set := redact.NewSet([]byte(testSecret))
	boom := errors.New("connection reset")
	bodies := [][]byte{
		[]byte(strings.Repeat("long body "+testSecret+" ", 5000)),
		[]byte("short " + testSecret),
		[]byte("tiny"),
		[]byte(strings.Repeat("x", 40<<10) + testSecret[:10]),
		{},
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(bodies)*2)
	for g := range 8 {
		wg.Go(func() {
			for round := range 2 * len(bodies) {
				body := bodies[(g+round)%len(bodies)]
				if round%3 == 2 {
					if err := failingStream(set, body, boom); err != "" {
						errs <- err
					}
					continue
				}
				want, wantN := set.Redact(body)
				out, n, err := viaReader(set, body, []int{1 + g*997 + round*31})
				if err != nil || !bytes.Equal(out, want) || n != wantN {
					errs <- fmt.Sprintf("goroutine %d round %d: %d bytes (%d redactions), want %d (%d), error %v",
						g, round, len(out), n, len(want), wantN, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// failingStream reads body and a newline followed by a secret prefix and then an error,
// and reports what went wrong (empty when nothing did).
func failingStream(set *redact.Set, body []byte, boom error) string {
	body = append(append([]byte{}, body...), '\n')
	data := append(append([]byte{}, body...), testSecret[:12]...)
	out, err := io.ReadAll(set.NewReader(&failingReader{data: data, err: boom}))
	if !errors.Is(err, boom) {
		return fmt.Sprintf("failing stream: error %v, want %v", err, boom)
	}
	if want, _ := set.Redact(body); !bytes.Equal(out, want) {
		return fmt.Sprintf("failing stream: %d bytes, want the %d bytes before the held prefix", len(out), len(want))
	}
	return ""
}
