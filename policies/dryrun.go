package policies

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/The-17/agentsecrets/hostfns"
	"github.com/The-17/agentsecrets/vault"
)

// Placeholders is a [hostfns.Secrets] for dry runs: it never touches a
// vault and hands out a random, recognisable token per secret name.
type Placeholders struct {
	// Known, when set, limits which names exist (e.g. the vault's key
	// names); others are reported as not found.
	Known func(name string) bool

	nonce  string
	tokens map[string]string
	order  []string
}

// Open implements hostfns.Secrets with a placeholder value.
func (p *Placeholders) Open(name string) ([]byte, error) {
	if !vault.IsKeyName(name) { // as the vault refuses it; not repeated (it may be a value)
		return nil, fmt.Errorf("%w: invalid key name %s", hostfns.ErrSecretNotFound, vault.Characters(name))
	}
	if p.Known != nil && !p.Known(name) {
		return nil, fmt.Errorf("%w: %q", hostfns.ErrSecretNotFound, name)
	}
	if p.tokens == nil {
		var b [6]byte
		_, _ = rand.Read(b[:])
		p.nonce = hex.EncodeToString(b[:])
		p.tokens = map[string]string{}
	}
	tok, ok := p.tokens[name]
	if !ok {
		tok = fmt.Sprintf("asph%s%dx", p.nonce, len(p.order))
		p.tokens[name] = tok
		p.order = append(p.order, name)
	}
	return []byte(tok), nil
}

// Reveal rewrites every placeholder in s, raw or in the encodings the host
// produces, as [SECRET:NAME].
func (p *Placeholders) Reveal(s string) string {
	var pairs []string
	for _, name := range p.order {
		tok := p.tokens[name]
		shown := "[SECRET:" + name + "]"
		for _, v := range []string{tok + ":", tok} {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
				pairs = append(pairs, enc.EncodeToString([]byte(v)), "base64("+shown+strings.TrimPrefix(v, tok)+")")
			}
		}
		pairs = append(pairs, tok, shown)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// DryRunResult is what a chain would send.
type DryRunResult struct {
	// Request is the shaped request, placeholders still in it.
	Request *hostfns.Request
	// Opened lists the secret names the chain opened.
	Opened []string
	// Text renders the request with each secret shown as [SECRET:NAME].
	Text string
}

// DryRun runs the chain on a copy of req with placeholder secrets (known
// limits the names that exist; nil accepts any) and renders the request it
// would send. No real secret is opened.
func (e *Engine) DryRun(ctx context.Context, specs []Spec, req *hostfns.Request, known func(string) bool) (DryRunResult, error) {
	ph := &Placeholders{Known: known}
	call := &hostfns.Call{Req: cloneRequest(req), Secrets: ph}
	if err := e.Run(ctx, specs, call); err != nil {
		return DryRunResult{}, err
	}
	return DryRunResult{
		Request: call.Req,
		Opened:  call.Opened(),
		Text:    ph.Reveal(Render(call.Req)),
	}, nil
}

// Render prints a request as HTTP/1.1-style text with sorted headers.
func Render(r *hostfns.Request) string {
	var b strings.Builder
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	u := ""
	if r.URL != nil {
		u = r.URL.String()
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\n", method, u)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	if len(r.Body) > 0 {
		b.WriteByte('\n')
		b.Write(r.Body)
		if r.Body[len(r.Body)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func cloneRequest(r *hostfns.Request) *hostfns.Request {
	out := &hostfns.Request{Method: r.Method, Header: r.Header.Clone(), Body: slices.Clone(r.Body)}
	if out.Header == nil {
		out.Header = http.Header{}
	}
	if r.URL != nil {
		u := *r.URL // Userinfo is immutable, sharing it is safe
		out.URL = &u
	}
	return out
}
