package redact_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/runner/redact"
)

// TestSplitAtEveryBoundary feeds each echo case through a Reader and a
// Writer split at every possible single boundary, byte by byte, and in
// random chunk sizes; the output must equal the whole-buffer output.
func TestSplitAtEveryBoundary(t *testing.T) {
	set := redact.NewSet([]byte(testSecret))
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range echoCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			want, wantN := set.Redact(body)
			check := func(how string, out []byte, n int, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if got := leaks(out, testSecret); len(got) > 0 {
					t.Fatalf("%s: leaked %v", how, got)
				}
				if !bytes.Equal(out, want) || n != wantN {
					t.Fatalf("%s: got %q (%d), want %q (%d)", how, out, n, want, wantN)
				}
			}
			forEveryChunking(rng, set, body, 20, check)
		})
	}
}

// TestWriterReleasesPromptly checks that a Write passes on everything that
// cannot begin a secret and holds only a possible secret prefix.
func TestWriterReleasesPromptly(t *testing.T) {
	set := redact.NewSet([]byte(testSecret))
	var out bytes.Buffer
	w := set.NewWriter(&out)
	write := func(s string) {
		t.Helper()
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write("data: first event\n\n")
	if out.String() != "data: first event\n\n" {
		t.Fatalf("first event not passed on: %q", out.String())
	}
	write("data: key=" + testSecret[:10])
	if out.String() != "data: first event\n\ndata: key=" {
		t.Fatalf("held the wrong tail: %q", out.String())
	}
	write(testSecret[10:] + "\n\n")
	if want := "data: first event\n\ndata: key=" + redact.Replacement + "\n\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	write("tail " + testSecret[:12])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "tail "+testSecret[:12]) {
		t.Fatalf("Close did not release the held tail: %q", out.String())
	}
	if w.Count() != 1 {
		t.Fatalf("count = %d, want 1", w.Count())
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("write after close succeeded")
	}
}

// TestSSEProgressive serves server-sent events from a real loopback server
// that only sends the second event once the client has received the first,
// redacted, through a Reader.
func TestSSEProgressive(t *testing.T) {
	set := redact.NewSet([]byte(testSecret))
	second := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		io.WriteString(w, "event: token\ndata: {\"key\":\""+jsonBody(testSecret, true)+"\"}\n\n")
		f.Flush()
		select {
		case <-second:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: raw "+testSecret+"\n\n")
		f.Flush()
	}))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := redact.DecodeBody(resp.Header, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := set.NewReader(body)
	defer r.Close()
	br := bufio.NewReader(r)

	first := readEvent(t, br)
	if want := "event: token\ndata: {\"key\":\"" + redact.Replacement + "\"}\n\n"; first != want {
		t.Fatalf("first event %q, want %q", first, want)
	}
	close(second)
	if got, want := readEvent(t, br), "data: raw "+redact.Replacement+"\n\n"; got != want {
		t.Fatalf("second event %q, want %q", got, want)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the events: %q, %v", rest, err)
	}
	if r.Count() != 2 {
		t.Fatalf("count = %d, want 2", r.Count())
	}
}

// readEvent reads one event, failing (rather than hanging) if it does not
// arrive while the server waits for the client.
func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ev strings.Builder
		for {
			line, err := br.ReadString('\n')
			ev.WriteString(line)
			if err != nil || line == "\n" {
				ch <- result{ev.String(), err}
				return
			}
		}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("reading event: %v (got %q)", res.err, res.s)
		}
		return res.s
	case <-time.After(10 * time.Second):
		t.Fatal("event not delivered while the server waits for the client")
		return ""
	}
}

// failingReader returns its data, then an error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestReaderErrorDropsTail checks that a failing upstream never gets a
// possible secret prefix released unchecked.
func TestReaderErrorDropsTail(t *testing.T) {
	set := redact.NewSet([]byte(testSecret))
	boom := errors.New("connection reset")
	r := set.NewReader(&failingReader{data: []byte("ok " + testSecret[:12]), err: boom})
	out, err := io.ReadAll(r)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	if string(out) != "ok " {
		t.Fatalf("got %q, want only the text before the held prefix", out)
	}
}

// countingWriter records the largest single write.
type countingWriter struct {
	bytes.Buffer
	largest int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.largest = max(c.largest, len(p))
	return c.Buffer.Write(p)
}

// TestBoundedChunks checks that one huge write is passed on in bounded
// pieces and stays correct.
func TestBoundedChunks(t *testing.T) {
	set := redact.NewSet([]byte(testSecret))
	body := bytes.Repeat([]byte("x "+testSecret+" y "), 100000)
	want, n := set.Redact(body)
	var out countingWriter
	w := set.NewWriter(&out)
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) || w.Count() != n {
		t.Fatal("output of one large write differs from the whole-buffer output")
	}
	if out.largest >= len(body)/2 {
		t.Fatalf("largest write %d bytes for a %d-byte input", out.largest, len(body))
	}
}
