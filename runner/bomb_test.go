package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/policies"
)

// gzipBomb is a "gzip, gzip" body of a few tens of KB that decodes to
// members×1 MiB of zeros: the inner layer is one small gzip member
// repeated (gzip.Reader reads concatenated members as one stream), the
// outer layer squeezes that repetition again.
func gzipBomb(tb testing.TB, members int) []byte {
	tb.Helper()
	member := gzipped(make([]byte, 1<<20))
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	for range members {
		zw.Write(member)
	}
	zw.Close()
	return buf.Bytes()
}

// TestDecompressionBombBoundedByTimeout: a compressed body small enough to
// arrive at once but decoding to many GiB is still bound by the call's
// deadline, as a plain body is: its reads fail with ErrTimeout once the
// deadline has passed, instead of decoding (and streaming on to the agent)
// for as long as the bomb lasts.
func TestDecompressionBombBoundedByTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes for a few seconds")
	}
	bomb := gzipBomb(t, 16<<10) // 16 GiB decoded
	up := newUpstream(t, bodyOf("gzip, gzip", bomb))
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	r, _, _ := newTestRunner(t, v)
	const timeout = 500 * time.Millisecond
	start := time.Now()
	res, err := r.Do(context.Background(), &Call{URL: up.URL, Timeout: timeout,
		Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, 256<<10)
	var total int64
	for {
		n, err := res.Body.Read(buf)
		total += int64(n)
		if err == io.EOF {
			t.Fatalf("the bomb decoded to its end (%d bytes)", total)
		}
		if err != nil {
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("read error %v, want ErrTimeout", err)
			}
			break
		}
		if el := time.Since(start); el > timeout+4*time.Second {
			t.Fatalf("still decoding %v after a %v deadline (%d MiB so far)", el, timeout, total>>20)
		}
	}
	if el := time.Since(start); el > timeout+2*time.Second {
		t.Errorf("the body failed %v after a %v deadline", el, timeout)
	}
}

// TestContentCodingChainBounded: a Content-Encoding that stacks thousands
// of codings ("gzip,gzip,…", as long as a header line may be) makes a
// decoder, with its 32 KiB window, for each: a body of some tens of KB
// held tens of MiB per call (hundreds at the header's limit), before a
// byte of it was read. Such a chain is refused, or decoded in bounded
// memory.
func TestContentCodingChainBounded(t *testing.T) {
	const depth = 2000
	body := []byte("hello")
	for range depth {
		body = gzipped(body)
	}
	up := newUpstream(t, bodyOf(strings.TrimSuffix(strings.Repeat("gzip,", depth), ","), body))
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	r, _, _ := newTestRunner(t, v)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := r.Do(context.Background(), &Call{URL: up.URL,
		Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
	if err != nil {
		if !errors.Is(err, ErrUnsafeResponse) {
			t.Fatalf("error %v, want ErrUnsafeResponse", err)
		}
		return
	}
	defer res.Body.Close()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); held > 16<<20 {
		t.Errorf("a %d-byte body in %d codings holds %d MiB before it is read", len(body), depth, held>>20)
	}
}
