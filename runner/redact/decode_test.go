package redact_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/runner/redact"
)

func gzipped(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func zlibbed(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	w := zlib.NewWriter(&out)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func rawDeflated(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	w, err := flate.NewWriter(&out, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestDecodeBodies serves encoded bodies echoing the secret from a loopback
// server and reads them through DecodeBody and a Reader.
func TestDecodeBodies(t *testing.T) {
	set := redact.NewSet([]byte(testSecret))
	plain, _ := manyOccurrences(t, 200<<10)
	cases := []struct {
		name     string
		encoding string
		body     []byte
		askGzip  bool // client sends Accept-Encoding itself
		auto     bool // let net/http ask for and decode gzip
	}{
		{"gzip, client asked", "gzip", gzipped(t, plain), true, false},
		{"gzip, client did not ask", "gzip", gzipped(t, plain), false, false},
		{"gzip decoded by net/http", "gzip", gzipped(t, plain), false, true},
		{"x-gzip", "x-gzip", gzipped(t, plain), false, false},
		{"deflate as zlib", "deflate", zlibbed(t, plain), true, false},
		{"deflate raw", "deflate", rawDeflated(t, plain), true, false},
		{"deflate then gzip", "deflate, gzip", gzipped(t, zlibbed(t, plain)), true, false},
		{"identity", "identity", plain, false, false},
		{"none", "", plain, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.encoding != "" {
					w.Header().Set("Content-Encoding", tc.encoding)
				}
				w.Write(tc.body)
			}))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{DisableCompression: !tc.auto}}
			req, _ := http.NewRequest("GET", srv.URL, nil)
			if tc.askGzip {
				req.Header.Set("Accept-Encoding", "gzip, deflate")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := redact.DecodeBody(resp.Header, resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			r := set.NewReader(body)
			out, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if got := leaks(out, testSecret); len(got) > 0 {
				t.Fatalf("leaked %v", got)
			}
			want, _ := set.Redact(plain)
			if !bytes.Equal(out, want) {
				t.Fatal("decoded, redacted body differs from the redacted plain body")
			}
			if v := resp.Header.Get("Content-Encoding"); v != "" {
				t.Errorf("Content-Encoding %q left in place", v)
			}
			if v := resp.Header.Get("Content-Length"); v != "" {
				t.Errorf("Content-Length %q left in place", v)
			}
		})
	}
}

func TestDecodeUnsupported(t *testing.T) {
	for _, enc := range []string{"br", "zstd", "compress", "gzip, br", "snappy"} {
		h := http.Header{"Content-Encoding": {enc}, "Content-Length": {"12"}}
		body := io.NopCloser(strings.NewReader("opaque bytes"))
		r, err := redact.DecodeBody(h, body)
		if !errors.Is(err, redact.ErrUnsupportedEncoding) {
			t.Errorf("%q: error %v, want ErrUnsupportedEncoding", enc, err)
		}
		if r != nil {
			t.Errorf("%q: got a body to read", enc)
		}
		if h.Get("Content-Encoding") != enc || h.Get("Content-Length") != "12" {
			t.Errorf("%q: headers changed on refusal: %v", enc, h)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	h := http.Header{"Content-Encoding": {"gzip"}}
	_, err := redact.DecodeBody(h, io.NopCloser(strings.NewReader("not gzip at all")))
	if err == nil || errors.Is(err, redact.ErrUnsupportedEncoding) {
		t.Fatalf("error %v, want a gzip error", err)
	}
	if !strings.HasPrefix(err.Error(), "redact: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
	// An empty encoded body (HEAD, 204) decodes to nothing.
	h = http.Header{"Content-Encoding": {"gzip"}}
	r, err := redact.DecodeBody(h, io.NopCloser(strings.NewReader("")))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(r); err != nil || len(b) != 0 {
		t.Fatalf("empty body: %q, %v", b, err)
	}
}

// closeRecorder notes whether it was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestDecodeCloseClosesBody(t *testing.T) {
	src := &closeRecorder{Reader: bytes.NewReader(gzipped(t, []byte("hello")))}
	r, err := redact.DecodeBody(http.Header{"Content-Encoding": {"gzip"}}, src)
	if err != nil {
		t.Fatal(err)
	}
	rr := redact.NewSet([]byte("secret-value")).NewReader(r)
	if b, _ := io.ReadAll(rr); string(b) != "hello" {
		t.Fatalf("got %q", b)
	}
	if err := rr.Close(); err != nil || !src.closed {
		t.Fatalf("Close: %v, body closed %v", err, src.closed)
	}
}
