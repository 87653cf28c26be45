package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSwitchingProtocolsIsRefused has the upstream answer 101 Switching
// Protocols: the proxy never tunnels (the client's Upgrade is not
// forwarded and the upstream connection is not handed over), so the
// client gets 502 response_refused, not a 101 after which the connection
// goes on speaking HTTP.
func TestSwitchingProtocolsIsRefused(t *testing.T) {
	f := newFixture(t)
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" || r.Header.Get("Connection") != "" {
			t.Errorf("upstream received Upgrade %q, Connection %q", r.Header.Get("Upgrade"), r.Header.Get("Connection"))
		}
		writeRaw(t, w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nframes")
	})
	status, _, body := f.do(f.request("GET", "/ws", nil, "X-AS-Inject-Bearer", "TOKEN_A",
		"Connection", "Upgrade", "Upgrade", "websocket"))
	if status != http.StatusBadGateway || !strings.Contains(body, CodeResponseRefused) {
		t.Fatalf("status %d, body %q; want 502 %s", status, body, CodeResponseRefused)
	}
}

// rawUpstream is a loopback server that hands each connection to serve,
// for answers httptest's server would not send.
func rawUpstream(t *testing.T, serve func(conn net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				serve(conn, bufio.NewReader(conn))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestSwitchedConnectionNotReused has the upstream switch protocols on
// the first call's connection and then speak its own protocol there, in
// messages that look like HTTP answers. The next call, another agent's
// with another credential, must get the answer to its own request, not
// one the switched connection produced for the first.
func TestSwitchedConnectionNotReused(t *testing.T) {
	f := newFixture(t)
	target := rawUpstream(t, func(conn net.Conn, br *bufio.Reader) {
		switched := false
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if switched { // the new protocol's message, whatever arrived
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\nfor the switched")
				continue
			}
			if req.URL.Path == "/switch" {
				io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: Upgrade\r\n\r\n")
				switched = true
				continue
			}
			answer := "answer to " + req.URL.Path
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(answer))+"\r\n\r\n"+answer)
		}
	})
	call := func(path, key, agent string) string {
		method := "GET"
		if strings.HasPrefix(path, "/post") {
			method = "POST" // not idempotent: retried only because nothing was sent
		}
		req := f.request(method, "", nil, "X-AS-Inject-Bearer", key, "X-AS-Agent-ID", agent)
		req.Header.Set(HeaderTargetURL, target+path)
		_, _, body := f.do(req)
		return body
	}
	call("/switch", "TOKEN_A", "agent-a")
	if got := call("/second", "TOKEN_B", "agent-b"); got != "answer to /second" {
		t.Fatalf("the second call got %q, want the answer to its own request", got)
	}
	call("/switch", "TOKEN_A", "agent-a")
	if got := call("/post-third", "TOKEN_B", "agent-b"); got != "answer to /post-third" {
		t.Fatalf("a POST after a switch got %q, want the answer to its own request", got)
	}
}
