package runner

import (
	"errors"
	"net"
	"net/http"
	"time"
)

// NewTransport returns the HTTP transport every front end shares: a pool
// sized for a busy proxy (Go's default keeps only two idle connections per
// host), bounded timeouts, and a dialer that applies the SSRF guard to the
// address it actually connects to. Compression is left to the caller, who
// asks for identity encoding so the redactor sees plain bytes.
func NewTransport() *http.Transport {
	dialer := &net.Dialer{
		Timeout:        10 * time.Second,
		KeepAlive:      30 * time.Second,
		ControlContext: dialControl,
	}
	return &http.Transport{
		Proxy:                 nil, // never route credentials through an environment-configured proxy
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// maxRedirects bounds the same-host redirects a call follows.
const maxRedirects = 10

// checkRedirect follows a redirect only to the same scheme and host as the
// original request, so an injected credential never travels to another
// host; any other redirect is handed back to the caller as the response.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("runner: too many redirects")
	}
	first := via[0].URL
	if req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
		return http.ErrUseLastResponse
	}
	return nil
}
