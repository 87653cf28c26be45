// Package httpsyntax checks the pieces of an HTTP/1.1 message that a
// caller, a policy or a command line may supply, so that nothing they give
// can split a request or smuggle a header into it.
//
// Each front end validates what it receives and the transport checks again
// before anything is written to the wire; all of them use these functions.
package httpsyntax

import (
	"iter"
	"net/http"
	"strings"
	"sync"
)

// MaxHeaderNameLen bounds a header name.
const MaxHeaderNameLen = 256

// ValidHeaderName reports whether name is an RFC 9110 token of at most
// MaxHeaderNameLen bytes.
func ValidHeaderName[T ~string | ~[]byte](name T) bool {
	if len(name) == 0 || len(name) > MaxHeaderNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether value holds no control character but
// tab: above all no CR, LF or NUL, which would split or corrupt a message.
func ValidHeaderValue[T ~string | ~[]byte](value T) bool {
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// FramingHeader reports whether name (in any case) is a header the
// transport writes itself (Host, Content-Length, Transfer-Encoding,
// Trailer) or one that describes the connection rather than the message
// (Connection, Keep-Alive, Proxy-Connection, TE, Upgrade). Whatever a
// caller or a policy puts there is dropped or rewritten on the way out, so
// a credential placed there would leave the request without it.
func FramingHeader[T ~string | ~[]byte](name T) bool {
	return in(transportHeaders, string(name)) || in(connectionHeaders, string(name))
}

// TransportHeader reports whether name (in any case) is one of the
// headers the transport writes itself from the message: a caller's is not
// sent.
func TransportHeader(name string) bool { return in(transportHeaders, name) }

var (
	transportHeaders  = []string{"Host", "Content-Length", "Transfer-Encoding", "Trailer"}
	connectionHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade"}
)

// in reports whether list holds name, without case.
func in(list []string, name string) bool {
	for _, h := range list {
		if len(h) == len(name) && strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// commonNames are header names most requests and responses carry, in
// canonical form.
var commonNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Encoding", "Content-Length", "Content-Type", "Cookie", "Date",
		"Etag", "Expires", "Host", "Keep-Alive", "Last-Modified", "Location", "Origin",
		"Pragma", "Referer", "Server", "Set-Cookie", "Transfer-Encoding", "User-Agent",
		"Vary", "X-Request-Id", "X-Content-Type-Options",
		"X-As-Target-Url", "X-As-Method", "X-As-Session-Token", "X-As-Agent-Id",
		"X-As-Agent-Token", "X-As-Policy", "X-As-Param", "X-As-Inject-Bearer",
		"X-As-Inject-Basic", "X-As-Inject-Header", "X-As-Inject-Query",
		"X-As-Inject-Body", "X-As-Inject-Form",
	} {
		m[n] = n
	}
	return m
}()

// Name returns a header name as a string: a common one without
// allocating, any other as a copy. name must already be in the form
// wanted (this does not canonicalise it).
func Name(name []byte) string {
	if s, ok := commonNames[string(name)]; ok {
		return s
	}
	return string(name)
}

// Header builds an http.Header from the name/value pairs all yields (a
// fasthttp header's All, whose names are already in the form wanted),
// keeping repeated names' values in order. All values share one string and
// the first value of each name one backing array, so a message's headers
// cost a handful of allocations rather than two per header.
func Header(all iter.Seq2[[]byte, []byte]) http.Header {
	p := pairsPool.Get().(*pairs)
	defer p.release()
	p.collect(all)
	var b strings.Builder
	b.Grow(p.size)
	for i := 1; i < len(p.kv); i += 2 {
		b.Write(p.kv[i])
	}
	joined := b.String()
	firsts := make([]string, 0, len(p.kv)/2)
	h := make(http.Header, len(p.kv)/2)
	off := 0
	for i := 0; i < len(p.kv); i += 2 {
		name, v := Name(p.kv[i]), p.kv[i+1]
		value := joined[off : off+len(v)]
		off += len(v)
		if prev, ok := h[name]; ok {
			h[name] = append(prev, value) // copies: prev has no room
			continue
		}
		firsts = append(firsts, value)
		h[name] = firsts[len(firsts)-1 : len(firsts) : len(firsts)]
	}
	return h
}

// pairs holds a header's names and values (alternately) while Header
// builds its map.
type pairs struct {
	kv   [][]byte
	size int // total length of the values
}

var pairsPool = sync.Pool{New: func() any { return new(pairs) }}

func (p *pairs) collect(all iter.Seq2[[]byte, []byte]) {
	for k, v := range all {
		p.kv = append(p.kv, k, v)
		p.size += len(v)
	}
}

// release forgets the pairs (they point into the caller's buffers) and
// returns p to the pool.
func (p *pairs) release() {
	clear(p.kv)
	p.kv, p.size = p.kv[:0], 0
	pairsPool.Put(p)
}
