package runner

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestPoolOfClosedConnectionsIsSkipped: an upstream that closes its idle
// keep-alive connections (many do after a few seconds) leaves the pool
// full of closed ones after a burst. The next call, a POST too, skips
// every one of them (nothing was sent on them) and goes out on a new
// connection, instead of failing after the second.
func TestPoolOfClosedConnectionsIsSkipped(t *testing.T) {
	const burst = 6
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted int
		all      = make(chan struct{}) // the burst's connections are open
		closeAll = make(chan struct{}) // the upstream closes them
	)
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	acceptEach(ln, &wg, func(c net.Conn) {
		defer wg.Done()
		defer c.Close()
		mu.Lock()
		accepted++
		n := accepted
		mu.Unlock()
		r := bufio.NewReader(c)
		if n > burst { // after the burst: answer one request
			if req, err := http.ReadRequest(r); err == nil {
				_, _ = io.Copy(io.Discard, req.Body)
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nown answer")
			}
			return
		}
		if n == burst {
			close(all)
		}
		if _, err := http.ReadRequest(r); err != nil {
			return
		}
		<-all // every request of the burst holds a connection of its own
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		<-closeAll // then idles in the pool until the upstream closes it
	})
	tr, dc := newCountingTransport(t)
	target := "http://" + ln.Addr().String()
	var calls sync.WaitGroup
	for range burst {
		calls.Add(1)
		go func() {
			defer calls.Done()
			res, err := tr.RoundTrip(transportRequest(t, "GET", target+"/burst", nil, true))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}()
	}
	calls.Wait()
	close(closeAll)
	time.Sleep(50 * time.Millisecond) // for loopback to deliver the closes

	for _, method := range []string{"POST", "GET"} {
		res, err := tr.RoundTrip(transportRequest(t, method, target+"/next", []byte("x"), true))
		if err != nil {
			t.Fatalf("%s after the upstream closed %d idle connections: %v", method, burst, err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || string(body) != "own answer" {
			t.Fatalf("%s got %q (error %v), want its own answer", method, body, err)
		}
	}
	if n := dc.dials(); n > burst+2 {
		t.Errorf("%d dials, want at most %d", n, burst+2)
	}
}

// TestRetryIfErr: a request refused unsent on a pooled connection is always
// tried again (the pool bounds how often); any other failure is retried
// once, and only for an idempotent request.
func TestRetryIfErr(t *testing.T) {
	for _, tc := range []struct {
		method   string
		attempts int
		err      error
		want     bool
	}{
		{"GET", 1, io.EOF, true},
		{"PUT", 1, io.EOF, true},
		{"GET", 2, io.EOF, false},
		{"POST", 1, io.EOF, false},
		{"POST", 1, errStale, true},
		{"POST", 40, errStale, true},
		{"PATCH", 3, errSwitched, true},
		{"GET", 3, io.ErrUnexpectedEOF, false},
	} {
		req := fasthttp.AcquireRequest()
		req.Header.SetMethod(tc.method)
		if _, got := retryIfErr(req, tc.attempts, tc.err); got != tc.want {
			t.Errorf("retryIfErr(%s, attempt %d, %v) = %v, want %v", tc.method, tc.attempts, tc.err, got, tc.want)
		}
		fasthttp.ReleaseRequest(req)
	}
}
