package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/valyala/fasthttp"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"
)

// Defaults of the listening address.
const (
	DefaultBind = "127.0.0.1"
	DefaultPort = 8765
)

// ErrPortInUse is returned by Listen when another process holds the port.
var ErrPortInUse = errors.New("proxy: port already in use")

// ErrRemoteBind is returned by CheckBind for a non-loopback address given
// without allowRemote.
var ErrRemoteBind = errors.New("proxy: refusing to listen on a non-loopback address")

// NewSessionToken returns a fresh random session token: 32 bytes from the
// system's random source, hex-encoded.
func NewSessionToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("proxy: session token: %v", err)
	}
	return hex.EncodeToString(b), nil
}

// CheckBind decides whether the proxy may listen on bind (an IP address or
// "localhost"). Loopback is always allowed; anything else only with
// allowRemote, and then remote reports true so the caller warns.
func CheckBind(bind string, allowRemote bool) (remote bool, err error) {
	if bind == "localhost" {
		return false, nil
	}
	ip := net.ParseIP(bind)
	if ip == nil {
		return false, fmt.Errorf("proxy: bind address %q is not an IP address", bind)
	}
	if ip.IsLoopback() {
		return false, nil
	}
	if !allowRemote {
		return true, fmt.Errorf("%w %q", ErrRemoteBind, bind)
	}
	return true, nil
}

// Listen listens on bind:port, reporting a port held by another process as
// ErrPortInUse.
func Listen(bind string, port int) (net.Listener, error) {
	addr := net.JoinHostPort(bind, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%w: %s", ErrPortInUse, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("proxy: listen on %s: %v", addr, err)
	}
	return ln, nil
}

// Limits of the server.
const (
	// MaxHeaderBytes bounds a request's header: it must fit the read
	// buffer of a connection.
	MaxHeaderBytes = 64 << 10
	// ReadTimeout bounds reading one request, header and body, once its
	// first byte arrived.
	ReadTimeout = 60 * time.Second
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout = 120 * time.Second
)

// NewServer returns the fasthttp server for h: timeouts that bound slow
// clients but not long responses (server-sent events may run for
// minutes), header names in net/http's canonical form, nothing added to responses that the upstream did not send, and errors
// before the handler (an oversize body) answered in the protocol's JSON.
func NewServer(h *Handler) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                      h.ServeFastHTTP,
		ErrorHandler:                 serverError,
		ReadTimeout:                  ReadTimeout,
		IdleTimeout:                  IdleTimeout,
		ReadBufferSize:               MaxHeaderBytes,
		MaxRequestBodySize:           int(h.maxBody()),
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		NoDefaultDate:                true,
		NoDefaultContentType:         true,
		CloseOnShutdown:              true,
		Logger:                       quietLogger{},
	}
}

// serverError answers a request the server could not read.
func serverError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		writeError(ctx, errBodyTooLarge)
		return
	}
	writeError(ctx, &Error{Status: http.StatusBadRequest, Code: CodeBadHeader,
		Message: "the request could not be read as HTTP/1.1"})
}

// quietLogger drops the server's own log lines: they may quote what a
// client sent.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// GCPercent is the garbage collector's target while Serve runs. The
// proxy's live heap is small (a few MiB) and every request allocates, so
// at Go's default of 100 it collects every few thousand requests; at 400
// the heap may grow to five times the live data, and at 32 connections on
// loopback the proxy spends about 8% less CPU per request.
const GCPercent = 400

// ShutdownTimeout bounds how long Serve waits for in-flight requests after
// its context is done.
const ShutdownTimeout = 30 * time.Second

// Serve serves h on ln until ctx is done, then shuts down gracefully:
// the listener closes, in-flight requests finish (within
// ShutdownTimeout), and pending audit events are written (Handler.Close).
//
// Unless the GOGC and GOMAXPROCS environment variables say otherwise,
// Serve sets the garbage collector's target to GCPercent and lets the
// number of threads running Go code follow the load (procsGovernor) until
// it returns.
func Serve(ctx context.Context, ln net.Listener, h *Handler) error {
	// Opening the vault may have just run Argon2id over 64 MiB: return
	// that to the system now, or the collector's first target would be
	// GCPercent over it and the proxy would hold hundreds of MiB.
	debug.FreeOSMemory()
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(GCPercent))
	}
	if os.Getenv("GOMAXPROCS") == "" {
		g := newProcsGovernor(runtime.NumCPU())
		h.procs.Store(g)
		gctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { g.run(gctx, governorInterval); close(done) }()
		defer func() { stop(); <-done; h.procs.CompareAndSwap(g, nil) }()
	}
	srv := NewServer(h)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		_ = h.Close()
		return fmt.Errorf("proxy: serve: %v", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.ShutdownWithContext(sctx)
	cerr := h.Close()
	if err != nil {
		return fmt.Errorf("proxy: shutdown: %v", err)
	}
	return cerr
}
