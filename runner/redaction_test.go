package runner

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner/redact"
)

// TestLeakDetector shows the no-leak assertion used throughout sees every
// encoding and every partial run.
func TestLeakDetector(t *testing.T) {
	s := []byte(testSecret)
	for _, text := range []string{
		testSecret,
		base64.RawURLEncoding.EncodeToString(s),
		strings.ToUpper(hex.EncodeToString(s)),
		url.QueryEscape(testSecret),
		"xx" + testSecret[3:19] + "yy",
	} {
		if len(leakedForms("prefix "+text+" suffix", s)) == 0 {
			t.Errorf("leak of %q not detected", text)
		}
	}
	if found := leakedForms("status 200\n[REDACTED_BY_AGENTSECRETS] sk_live_", s); len(found) > 0 {
		t.Errorf("false leak: %q", found)
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func zlibbed(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func rawDeflated(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func jsonString(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(s)
	return strings.TrimSpace(buf.String())
}

// bodyOf writes a fixed body with an optional Content-Encoding.
func bodyOf(encoding string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if encoding != "" {
			w.Header().Set("Content-Encoding", encoding)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body)
	}
}

// trickle writes body a few bytes at a time, flushing each piece, so a
// secret straddles many chunk boundaries.
func trickle(body []byte, step int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fl := w.(http.Flusher)
		for i := 0; i < len(body); i += step {
			w.Write(body[i:min(i+step, len(body))])
			fl.Flush()
		}
	}
}

// TestRedactionThroughDo: responses that echo the secret in every way an
// API could, read by the caller through Runner.Do, never show it.
func TestRedactionThroughDo(t *testing.T) {
	s := []byte(testSecret)
	sentence := func(form string) []byte {
		return []byte(`{"received":"` + form + `","note":"echo"}` + "\n")
	}
	big := bigEchoBody(5<<20, 3000)
	tests := []struct {
		name        string
		handler     http.HandlerFunc
		askGzip     bool // the caller's own Accept-Encoding asks for gzip
		minRedacted int
	}{
		{name: "raw body", handler: bodyOf("", sentence(testSecret)), minRedacted: 1},
		{name: "response header", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Echo-Token", "Bearer "+testSecret)
			w.Header().Add("Set-Cookie", "session="+url.QueryEscape(testSecret)+"; Path=/")
			w.Header().Set("Location", "/next?token="+url.QueryEscape(testSecret))
			w.Write([]byte("ok"))
		}, minRedacted: 3},
		{name: "base64 std", handler: bodyOf("", sentence(base64.StdEncoding.EncodeToString(s))), minRedacted: 1},
		{name: "base64 raw std", handler: bodyOf("", sentence(base64.RawStdEncoding.EncodeToString(s))), minRedacted: 1},
		{name: "base64 url", handler: bodyOf("", sentence(base64.URLEncoding.EncodeToString(s))), minRedacted: 1},
		{name: "base64 raw url", handler: bodyOf("", sentence(base64.RawURLEncoding.EncodeToString(s))), minRedacted: 1},
		{name: "basic auth echo", handler: bodyOf("", sentence("Basic "+base64.StdEncoding.EncodeToString([]byte("user:"+testSecret)))), minRedacted: 1},
		{name: "hex lower", handler: bodyOf("", sentence(hex.EncodeToString(s))), minRedacted: 1},
		{name: "hex upper", handler: bodyOf("", sentence(strings.ToUpper(hex.EncodeToString(s)))), minRedacted: 1},
		{name: "url query escape", handler: bodyOf("", sentence(url.QueryEscape(testSecret))), minRedacted: 1},
		{name: "url path escape", handler: bodyOf("", sentence(url.PathEscape(testSecret))), minRedacted: 1},
		{name: "json escaped", handler: bodyOf("", []byte(`{"received":`+jsonString(testSecret, false)+`}`)), minRedacted: 1},
		{name: "json escaped html", handler: bodyOf("", []byte(`{"received":`+jsonString(testSecret, true)+`}`)), minRedacted: 1},
		{name: "partial echo", handler: bodyOf("", sentence(testSecret[4:24])), minRedacted: 1},
		{name: "gzip, caller asked", handler: bodyOf("gzip", gzipped(sentence(testSecret))), askGzip: true, minRedacted: 1},
		{name: "gzip, caller did not ask", handler: bodyOf("gzip", gzipped(sentence(testSecret))), minRedacted: 1},
		{name: "deflate zlib, caller asked", handler: bodyOf("deflate", zlibbed(sentence(testSecret))), askGzip: true, minRedacted: 1},
		{name: "deflate raw, caller did not ask", handler: bodyOf("deflate", rawDeflated(sentence(testSecret))), minRedacted: 1},
		{name: "gzip then trickled", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			trickle(gzipped(bytes.Repeat(sentence(testSecret), 50)), 7)(w, r)
		}, minRedacted: 50},
		{name: "split across chunks of 1 byte", handler: trickle(sentence(testSecret), 1), minRedacted: 1},
		{name: "split across chunks of 3 bytes", handler: trickle(bytes.Repeat(sentence(base64.StdEncoding.EncodeToString(s)), 20), 3), minRedacted: 20},
		{name: "split across chunks of 5 bytes", handler: trickle(bytes.Repeat(sentence(testSecret), 20), 5), minRedacted: 20},
		{name: "5 MB with thousands of occurrences", handler: bodyOf("", big), minRedacted: 3000},
		{name: "5 MB gzip trickled", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			trickle(gzipped(big), 64<<10)(w, r)
		}, minRedacted: 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, tt.handler)
			v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
			r, _, _ := newTestRunner(t, v)
			call := &Call{URL: up.URL + "/echo", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}}
			if tt.askGzip {
				call.Header = http.Header{"Accept-Encoding": {"gzip"}}
			}
			res, err := r.Do(context.Background(), call)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			out := output(t, res)
			assertNoLeak(t, "caller output", out, testSecret)
			if n := res.Redactions(); n < tt.minRedacted {
				t.Errorf("%d redactions, want at least %d", n, tt.minRedacted)
			}
			if !strings.Contains(out, redact.Replacement) {
				t.Errorf("no replacement text in output")
			}
			if ce := res.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("decoded body still labelled Content-Encoding %q", ce)
			}
			if got := up.requests()[0].Header.Get("Accept-Encoding"); got != redact.AcceptEncoding {
				t.Errorf("upstream was asked for Accept-Encoding %q, want %q", got, redact.AcceptEncoding)
			}
		})
	}
}

// TestNestedJSONThroughDo: an upstream that answers with a JSON document
// nested in a JSON string (an error detail quoting the request) escapes
// the credential twice; every stretch between two escaped characters is
// shorter than a partial run. The caller sees a redaction, and decoding
// the answer once gives no form of the credential.
func TestNestedJSONThroughDo(t *testing.T) {
	const secret = `Tq"8\wZ"k3\Pm"o9\Xr"<&`
	nested := func(inner func(string) string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			doc := inner(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			body, _ := json.Marshal(map[string]string{"detail": doc})
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"go json.Marshal twice", nested(func(tok string) string {
			doc, _ := json.Marshal(map[string]string{"error": "invalid token", "token": tok})
			return string(doc)
		})},
		{"without html escaping inside", nested(func(tok string) string {
			return `{"error":"invalid token","token":` + jsonString(tok, false) + `}`
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, tt.handler)
			v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": secret})
			r, _, _ := newTestRunner(t, v)
			res, err := r.Do(context.Background(), &Call{URL: up.URL + "/echo", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if n := res.Redactions(); n < 1 {
				t.Errorf("%d redactions, want at least 1", n)
			}
			var outer struct{ Detail string }
			if err := json.Unmarshal(body, &outer); err != nil {
				t.Fatalf("answer %q: %v", body, err)
			}
			assertNoLeak(t, "answer decoded once", outer.Detail, secret)
			if strings.Contains(outer.Detail, "wZ") {
				t.Errorf("answer decoded once still holds a piece of the credential: %q", outer.Detail)
			}
		})
	}
}

// bigEchoBody is about size bytes of JSON lines, n of which echo the secret
// in a rotating encoding.
func bigEchoBody(size, n int) []byte {
	s := []byte(testSecret)
	forms := []string{testSecret, base64.StdEncoding.EncodeToString(s), hex.EncodeToString(s),
		url.QueryEscape(testSecret), jsonString(testSecret, false)}
	filler := strings.Repeat("lorem ipsum dolor sit amet ", (size/n)/27+1)
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "{\"i\":%d,\"pad\":%q,\"echo\":%q}\n", i, filler, forms[i%len(forms)])
	}
	return b.Bytes()
}

// TestRangeRequestsGetWholeBodies: a caller's Range header would have an
// upstream that echoes the credential (here through http.ServeContent, as
// file and object stores answer) send it back piece by piece, each piece
// shorter than a partial run, one call per piece or several in one
// multipart/byteranges answer. The runner does not send Range: the answer
// is the whole body (a server may always ignore Range), and redacted.
func TestRangeRequestsGetWholeBodies(t *testing.T) {
	const secret = "sk_live_0123456789abcdefghijKLMNOP"
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		doc := "stored credential: " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") + "\n"
		http.ServeContent(w, r, "doc.txt", time.Time{}, strings.NewReader(doc))
	})
	for _, rng := range []string{"bytes=19-30", "bytes=31-", "bytes=-14", "bytes=19-30,31-42,43-55", "lower-case name"} {
		t.Run(rng, func(t *testing.T) {
			v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": secret})
			r, _, _ := newTestRunner(t, v)
			header := http.Header{"Range": {rng}}
			if rng == "lower-case name" { // as a policy may set it: names go out as given
				header = http.Header{"range": {"bytes=19-30,31-42,43-55"}}
			}
			call := &Call{URL: up.URL + "/doc", Header: header, Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}}
			res, err := r.Do(context.Background(), call)
			if err != nil {
				t.Fatal(err)
			}
			out := output(t, res)
			if res.Status != http.StatusOK || !strings.HasSuffix(out, "\nstored credential: "+redact.Replacement+"\n") {
				t.Errorf("want the whole body, redacted; got %q", out)
			}
			for i := 0; i+8 <= len(secret); i++ {
				if strings.Contains(out, secret[i:i+8]) {
					t.Fatalf("a piece of the credential reached the caller: %q", out)
				}
			}
		})
	}
}

// TestUndecodableEncodingRefused: a body the redactor cannot read is an
// error, not passed through.
func TestUndecodableEncodingRefused(t *testing.T) {
	for _, enc := range []string{"br", "zstd", "gzip, br", "x-custom"} {
		t.Run(enc, func(t *testing.T) {
			up := newUpstream(t, bodyOf(enc, []byte(testSecret)))
			v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
			r, sink, _ := newTestRunner(t, v)
			res, err := r.Do(context.Background(), &Call{URL: up.URL, Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
			if !errors.Is(err, ErrUnsafeResponse) {
				if res != nil {
					res.Body.Close()
				}
				t.Fatalf("Do = %v, want ErrUnsafeResponse", err)
			}
			assertNoLeak(t, "error message", err.Error(), testSecret)
			if evs := sink.Events(); len(evs) != 1 || evs[0].Decision != "error" {
				t.Errorf("audit = %+v", evs)
			}
		})
	}
}

// TestSSEStreamsProgressively: the caller reads event 1 before the
// upstream writes event 2, and neither event shows the secret.
func TestSSEStreamsProgressively(t *testing.T) {
	readBy := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		fl := w.(http.Flusher)
		fmt.Fprintf(w, "event: token\ndata: {\"n\":1,\"echo\":%q}\n\n", testSecret)
		fl.Flush()
		select {
		case <-readBy:
		case <-done:
			return
		case <-time.After(10 * time.Second):
			return // the caller never saw event 1: the test fails below
		}
		fmt.Fprintf(w, "event: token\ndata: {\"n\":2,\"echo\":%q}\n\n", base64.StdEncoding.EncodeToString([]byte(testSecret)))
		fl.Flush()
		fmt.Fprint(w, "event: done\ndata: {}\n\n")
	})
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	r, _, _ := newTestRunner(t, v)
	res, err := r.Do(context.Background(), &Call{URL: up.URL + "/stream", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	first := readEvent(t, br) // the upstream holds event 2 until readBy is closed
	if !strings.Contains(first, `"n":1`) {
		t.Fatalf("first event = %q", first)
	}
	close(readBy) // only now may the upstream send event 2
	second := readEvent(t, br)
	if !strings.Contains(second, `"n":2`) {
		t.Fatalf("second event = %q (the first arrived only with the rest of the stream?)", second)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	all := first + second + string(rest)
	assertNoLeak(t, "SSE stream", all, testSecret)
	if strings.Count(all, redact.Replacement) != 2 {
		t.Errorf("want 2 redactions in %q", all)
	}
	if !strings.Contains(string(rest), "event: done") {
		t.Errorf("stream truncated: %q", rest)
	}
}

// readEvent reads one SSE event (up to a blank line).
func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < 100; i++ {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if line == "\n" {
			return b.String()
		}
		if err != nil {
			t.Fatalf("reading event: %v after %q", err, b.String())
		}
	}
	t.Fatalf("event too long: %q", b.String())
	return ""
}

// TestRedactAllEnvironment: with RedactAll, a secret the call did not open
// is scrubbed too; without it, only the opened ones.
func TestRedactAllEnvironment(t *testing.T) {
	up := newUpstream(t, bodyOf("", []byte("opened="+testSecret+" other="+otherSecret)))
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret, "OTHER_KEY": otherSecret})
	r, _, _ := newTestRunner(t, v)
	call := func() string {
		res, err := r.Do(context.Background(), &Call{URL: up.URL, Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
		if err != nil {
			t.Fatal(err)
		}
		return output(t, res)
	}
	out := call()
	assertNoLeak(t, "output", out, testSecret)
	if !strings.Contains(out, "other="+otherSecret) {
		t.Errorf("without RedactAll a secret that was not opened is not in the set; got %q", out)
	}
	r.RedactAll = true
	assertNoLeak(t, "output with RedactAll", call(), testSecret, otherSecret)
}
