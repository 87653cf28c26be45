package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestVerify: only the proxy holding the token passes; another token, or
// a server that merely answers {"status":"ok"}, does not.
func TestVerify(t *testing.T) {
	f := newFixture(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer other.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr := strings.TrimPrefix(f.proxy.URL, "http://")
	if err := Verify(ctx, addr, f.handler.Token); err != nil {
		t.Errorf("the proxy with its token: %v", err)
	}
	if err := Verify(ctx, addr, "not-the-token"); err == nil {
		t.Error("another token verified")
	}
	if err := Verify(ctx, strings.TrimPrefix(other.URL, "http://"), f.handler.Token); err == nil {
		t.Error("a plain /health server verified")
	}
}
