package proxy

import (
	"net/http"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"
)

// hopByHop are the headers that describe one connection, not the message
// (RFC 9110 §7.6.1); they are never forwarded in either direction.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// upstreamHeader turns the client's headers, which it takes over, into
// what goes to the upstream: everything but X-AS-*, hop-by-hop headers,
// those the transport sets itself (Content-Length, Accept-Encoding, Host)
// and every value that carries the session token (Authorization: Bearer
// or any other form or copy of a header).
func upstreamHeader(h http.Header, sessionToken string) http.Header {
	removeHopByHop(h)
	for _, name := range []string{"Content-Length", "Accept-Encoding", "Host"} {
		delete(h, name)
	}
	for name, values := range h {
		if strings.HasPrefix(name, headerPrefix) {
			delete(h, name)
			continue
		}
		if sessionToken == "" {
			continue
		}
		if kept := slices.DeleteFunc(values, func(v string) bool { return strings.Contains(v, sessionToken) }); len(kept) > 0 {
			h[name] = kept
		} else {
			delete(h, name)
		}
	}
	return h
}

// removeHopByHop deletes the hop-by-hop headers and those Connection names.
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		delete(h, name)
	}
}

// copyResponseHeader copies the upstream's (already redacted) headers to
// the client, minus hop-by-hop ones and Content-Length: the body is
// redacted on the way, so its length is not known in advance (the server
// sets it when the whole body is known). Those are deleted from src too.
func copyResponseHeader(dst *fasthttp.ResponseHeader, src http.Header) {
	removeHopByHop(src)
	delete(src, "Content-Length")
	for name, values := range src {
		for _, v := range values {
			dst.Add(name, v)
		}
	}
}
