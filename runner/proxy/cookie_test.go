package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestCookieForwardedByteForByte sends Cookie lines fasthttp's cookie
// parser would rewrite (quotes, a backslash, '=' in a value, spaces in
// and around a value, two lines) over a raw connection: the upstream receives them byte for byte,
// on one line joined with "; ", but for the line carrying the session
// token, and nothing of the protocol besides.
func TestCookieForwardedByteForByte(t *testing.T) {
	f := newFixture(t)
	heads := make(chan string, 1)
	target := rawUpstream(t, func(conn net.Conn, br *bufio.Reader) {
		heads <- readHead(br)
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	first := `q="quoted"; p= padded ; b=back\slash; e=a=b==c; s=with spaces here`
	second := `  two=2;three="3"`
	raw := "GET /proxy HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
		"X-AS-Session-Token: " + f.handler.Token + "\r\n" +
		"X-AS-Target-URL: " + target + "/c\r\n" +
		"Cookie: " + first + "\r\n" +
		"cookie:" + second + "\r\n" +
		"Cookie: sid=" + f.handler.Token + "\r\n" + // never forwarded
		"Connection: close\r\n\r\n"
	if status, body := f.rawRequest(t, raw); status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	head := <-heads
	want := "\r\nCookie: " + first + "; " + strings.TrimSpace(second) + "\r\n"
	if !strings.Contains(head, want) || strings.Count(strings.ToLower(head), "\r\ncookie:") != 1 {
		t.Errorf("upstream received\n%s\nwant the one line %q", head, want)
	}
	if strings.Contains(strings.ToLower(head), "x-as-") || strings.Contains(head, f.handler.Token) {
		t.Errorf("upstream received a protocol header or the session token:\n%s", head)
	}
}

// readHead reads a request's header block, request line included, as it
// came on the wire.
func readHead(br *bufio.Reader) string {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil || line == "\r\n" {
			return b.String()
		}
	}
}
