package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/The-17/agentsecrets/internal/httpsyntax"
	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/vault"
)

// The protocol's request headers. Go canonicalises header names, so these
// are the forms ServeHTTP sees.
const (
	HeaderTargetURL    = "X-As-Target-Url"
	HeaderMethod       = "X-As-Method"
	HeaderTimeout      = "X-As-Timeout"
	HeaderSessionToken = "X-As-Session-Token"
	HeaderAgentID      = "X-As-Agent-Id"
	HeaderAgentToken   = "X-As-Agent-Token"
	HeaderPolicy       = "X-As-Policy"
	HeaderParam        = "X-As-Param"
	headerPrefix       = "X-As-"
	injectPrefix       = "X-As-Inject-"
	paramPrefix        = "X-As-Param-"
)

// styles maps the word after X-AS-Inject- to the built-in injection style,
// in the order a chain runs them (the order of the call command's flags).
var styles = [...]struct{ word, style string }{
	{"Bearer", "bearer"},
	{"Basic", "basic"},
	{"Header", "header"},
	{"Query", "query"},
	{"Body", "body-field"},
	{"Form", "form-field"},
}

// Limits on what the header parser accepts.
const (
	maxInjections = 64
	maxAgentID    = 128
)

// errBadHeader and errMissingTarget classify parse failures.
var (
	errBadHeader     = errors.New("bad header")
	errMissingTarget = errors.New("missing target")
)

// Parsed is what the X-AS-* headers of one request ask for. It holds key
// names and parameters, never a value.
type Parsed struct {
	// Method is X-AS-Method, or the request's own method.
	Method string
	// TargetURL is X-AS-Target-URL.
	TargetURL string
	// Policies is the injection chain: built-ins in the order bearer,
	// basic, header, query, body, form, then X-AS-Policy in header order.
	Policies []policies.Spec
	// Timeout is X-AS-Timeout, or 0 for the proxy's own.
	Timeout time.Duration
	// Agent is the audit identity: "anonymous", the X-AS-Agent-ID, or
	// "token:<first 8 hex digits of SHA-256(X-AS-Agent-Token)>", which
	// Handler.Identify replaces with "token:<id>" of a verified token.
	Agent string
}

// ParseHeaders reads the X-AS-* headers of a proxied request. method is the
// request's own method, the default for X-AS-Method. Any X-AS-* header it
// does not know, and any header name that is not an HTTP token, is an
// error, so a misspelt injection never turns into an unauthenticated
// request. Errors name the header and say what is wrong, but quote no
// name, key name or path they refuse (only its length): a value sent by
// mistake where a name goes must not come back to the client, often the
// agent's tool.
func ParseHeaders(h http.Header, method string) (*Parsed, error) {
	p := &Parsed{Method: method, Agent: "anonymous"}
	var byStyle chains
	var custom []string
	var params []string
	names, err := protocolNames(h)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		values := h[name]
		var err error
		switch {
		case name == HeaderSessionToken:
		case name == HeaderTargetURL:
			p.TargetURL, err = single(name, values)
		case name == HeaderMethod:
			p.Method, err = parseMethod(values)
		case name == HeaderTimeout:
			p.Timeout, err = parseTimeout(values)
		case name == HeaderAgentID:
			err = p.setAgentID(values)
		case name == HeaderAgentToken:
			err = p.setAgentToken(values)
		case name == HeaderPolicy:
			custom, err = appendList(custom, name, values)
		case name == HeaderParam:
			params, err = appendList(params, name, values)
		case strings.HasPrefix(name, paramPrefix):
			params, err = appendSeedParam(params, name, values)
		case strings.HasPrefix(name, injectPrefix):
			err = parseInjection(&byStyle, name, values)
		default:
			err = fmt.Errorf("%w: unknown header %q", errBadHeader, name)
		}
		if err != nil {
			return nil, err
		}
	}
	if p.TargetURL == "" {
		return nil, fmt.Errorf("%w: X-AS-Target-URL is required", errMissingTarget)
	}
	for _, chain := range byStyle {
		p.Policies = append(p.Policies, chain...)
	}
	if len(p.Policies) > maxInjections {
		return nil, fmt.Errorf("%w: more than %d injections", errBadHeader, maxInjections)
	}
	specs, err := customSpecs(custom, params)
	if err != nil {
		return nil, err
	}
	p.Policies = append(p.Policies, specs...)
	return p, nil
}

// protocolNames returns the X-AS-* header names of h, sorted, so that the
// chain's order does not depend on map iteration. A name of h that is not
// an HTTP token is an error: the server keeps such a name as sent (a
// misspelt "X-AS-Inject Bearer"), and it is refused here, not at the
// transport, where it would read as an unreachable upstream.
func protocolNames(h http.Header) ([]string, error) {
	var names []string
	for name := range h {
		if !httpsyntax.ValidHeaderName(name) {
			if prefix := seedPrefix(name); prefix != "" {
				return nil, fmt.Errorf("%w: header name %s… is not an HTTP token: the name after %s %s holds a space or separator", errBadHeader, prefix, prefix, vault.Characters(name[len(prefix):]))
			}
			return nil, fmt.Errorf("%w: header name %.64q is not an HTTP token", errBadHeader, name)
		}
		if strings.HasPrefix(name, headerPrefix) {
			names = append(names, name)
		} else if protocolLike(name) {
			return nil, fmt.Errorf("%w: header %.64q looks like an X-AS-* header; spell it with hyphens (X-AS-Inject-Bearer)", errBadHeader, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// seedPrefix is the protocol's spelling of the seed-form prefix name
// starts with in any case (X-AS-Inject-Query-, X-AS-Param-), or "": the
// rest of such a name is a name the client chose, which may be a value.
func seedPrefix(name string) string {
	prefixes := []string{"X-AS-Param-"}
	for _, s := range styles {
		prefixes = append(prefixes, "X-AS-Inject-"+s.word+"-")
	}
	for _, p := range prefixes {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return p
		}
	}
	return ""
}

// protocolLike reports whether name, not an X-AS-* header as the server
// spells them, is one written with underscores (X_AS_Inject_Bearer,
// X-AS_Target_URL), which the server does not read as one. Such a header is
// refused rather than forwarded: it is a misspelt protocol header, whose
// request would leave without its credential.
func protocolLike(name string) bool {
	return len(name) > 5 && (name[0] == 'X' || name[0] == 'x') && (name[1] == '-' || name[1] == '_') &&
		strings.EqualFold(name[2:4], "as") && (name[4] == '-' || name[4] == '_')
}

func single(name string, values []string) (string, error) {
	if len(values) != 1 || strings.TrimSpace(values[0]) == "" {
		return "", fmt.Errorf("%w: %s must be given once, not empty", errBadHeader, name)
	}
	return strings.TrimSpace(values[0]), nil
}

func parseMethod(values []string) (string, error) {
	m, err := single(HeaderMethod, values)
	if err != nil {
		return "", err
	}
	if !isToken(m) || len(m) > 32 {
		return "", fmt.Errorf("%w: X-AS-Method %q is not an HTTP method", errBadHeader, m)
	}
	return strings.ToUpper(m), nil
}

// MaxTimeout bounds X-AS-Timeout: a streamed answer (server-sent events
// from a model) may take minutes, not hours.
const MaxTimeout = time.Hour

func parseTimeout(values []string) (time.Duration, error) {
	v, err := single(HeaderTimeout, values)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > MaxTimeout {
		return 0, fmt.Errorf("%w: X-AS-Timeout %q is not a duration between 1ms and 1h (e.g. 90s, 5m)", errBadHeader, v)
	}
	return d, nil
}

func (p *Parsed) setAgentID(values []string) error {
	id, err := single(HeaderAgentID, values)
	if err != nil {
		return err
	}
	if len(id) > maxAgentID || !printable(id) || strings.HasPrefix(id, "token:") {
		return fmt.Errorf("%w: X-AS-Agent-ID must be 1-%d printable characters, not starting with \"token:\"", errBadHeader, maxAgentID)
	}
	if !strings.HasPrefix(p.Agent, "token:") {
		p.Agent = id
	}
	return nil
}

func (p *Parsed) setAgentToken(values []string) error {
	tok, err := single(HeaderAgentToken, values)
	if err != nil {
		return err
	}
	p.Agent = AgentTokenID(tok)
	return nil
}

// AgentTokenID is how an agent token appears in the audit log: "token:"
// and the first 8 hex digits of its SHA-256, never the token itself.
func AgentTokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:4])
}

// appendList adds the comma-separated items of every value.
func appendList(list []string, name string, values []string) ([]string, error) {
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				return nil, fmt.Errorf("%w: %s has an empty item", errBadHeader, name)
			}
			list = append(list, item)
			if len(list) > maxInjections {
				return nil, fmt.Errorf("%w: too many %s items", errBadHeader, name)
			}
		}
	}
	return list, nil
}

// appendSeedParam reads X-AS-Param-<k>: v. The name arrives canonicalised,
// so k is taken in lower case.
func appendSeedParam(params []string, name string, values []string) ([]string, error) {
	k := strings.ToLower(strings.TrimPrefix(name, paramPrefix))
	v, err := single(name, values)
	if err != nil {
		return nil, err
	}
	return append(params, k+"="+v), nil
}

// chains are the injections of each built-in style, in styles' order.
type chains [len(styles)][]policies.Spec

// parseInjection reads one X-AS-Inject-* header into byStyle.
func parseInjection(byStyle *chains, name string, values []string) error {
	rest := strings.TrimPrefix(name, injectPrefix)
	word, suffix, seed := strings.Cut(rest, "-")
	i, style := styleOf(word)
	if style == "" {
		return fmt.Errorf("%w: unknown injection header %q (want X-AS-Inject-Bearer, -Basic, -Header, -Query, -Body or -Form)", errBadHeader, name)
	}
	keyOnly := style == "bearer" || style == "basic"
	if seed && (keyOnly || suffix == "") {
		return fmt.Errorf("%w: unknown injection header %q", errBadHeader, name)
	}
	items, err := appendList(nil, name, values)
	if err != nil {
		return err
	}
	for n, item := range items {
		arg := item
		if seed {
			arg = seedName(style, suffix) + "=" + item
		}
		spec, err := policies.ParseInjection(style, arg)
		if err != nil {
			var ie *policies.InjectionError
			if !errors.As(err, &ie) {
				return fmt.Errorf("%w: X-AS-Inject-%s: invalid injection", errBadHeader, word)
			}
			which := ""
			if len(items) > 1 {
				which = fmt.Sprintf(" item %d", n+1)
			}
			return fmt.Errorf("%w: %s", errBadHeader, injectionFault(word, seed, which, ie))
		}
		byStyle[i] = append(byStyle[i], spec)
	}
	return nil
}

// injectionFault words an item of an X-AS-Inject-<word> header that
// ParseInjection refused, from its InjectionError: the header (and item,
// when it has several), what is wrong and the form wanted, with the length
// of the refused part but never its text, which may be a value sent where
// a name goes. A seed-form header is named by its form
// (X-AS-Inject-Query-<param>): its own name holds the name it gives.
func injectionFault(word string, seed bool, which string, ie *policies.InjectionError) string {
	header, want := "X-AS-Inject-"+word, ie.Form
	if seed {
		nameForm, _, _ := strings.Cut(ie.Form, "=")
		header += "-<" + nameForm + ">"
		want = header + ": KEY"
	}
	label := header + which
	switch ie.Part {
	case "=":
		return fmt.Sprintf("%s: no '=' in the item %s (want %s)", label, vault.Characters(ie.Arg), want)
	case "key":
		return fmt.Sprintf("%s: invalid secret name %s (want %s); KEY is the name of a secret, never its value", label, vault.Characters(ie.Bad), want)
	}
	part := ie.Part
	if part == "name" {
		part = "header name"
	}
	return fmt.Sprintf("%s: invalid %s %s (want %s)", label, part, vault.Characters(ie.Bad), want)
}

// styleOf is the index in styles and the style of an injection header's
// word; the style is "" for an unknown word.
func styleOf(word string) (int, string) {
	for i, s := range styles {
		if s.word == word {
			return i, s.style
		}
	}
	return -1, ""
}

// seedName is the name a seed-form header carries in its suffix. Header
// names are case-insensitive, so the canonical form is kept for them; query
// parameters, body paths and form fields are taken in lower case, the only
// case a canonicalised header name can be trusted to carry.
func seedName(style, suffix string) string {
	if style == "header" {
		return suffix
	}
	return strings.ToLower(suffix)
}

// customSpecs builds the X-AS-Policy chain. Only registered names are
// accepted over HTTP, never file paths; every policy gets every parameter.
func customSpecs(names, params []string) ([]policies.Spec, error) {
	if len(params) > 0 && len(names) == 0 {
		return nil, fmt.Errorf("%w: X-AS-Param is for X-AS-Policy; there is no X-AS-Policy", errBadHeader)
	}
	if len(names) == 0 {
		return nil, nil
	}
	// ParseParams's errors quote the item; these say what is wrong only.
	pm, err := policies.ParseParams(params)
	if err != nil {
		return nil, fmt.Errorf("%w: X-AS-Param: want name=value, each name once: an item has no '=' or a name is given twice", errBadHeader)
	}
	// The key param names the secret (the audit log records it as one).
	if k, ok := pm["key"]; ok && !vault.IsKeyName(k) {
		return nil, fmt.Errorf("%w: X-AS-Param key: invalid secret name %s (want key=KEY); KEY is the name of a secret, never its value", errBadHeader, vault.Characters(k))
	}
	specs := make([]policies.Spec, 0, len(names))
	for _, n := range names {
		if !policies.ValidName(n) {
			return nil, fmt.Errorf("%w: X-AS-Policy: a name %s is not a registered policy name (lower-case letters, digits, - and _)", errBadHeader, vault.Characters(n))
		}
		specs = append(specs, policies.Spec{Name: n, Params: pm})
	}
	return specs, nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f {
			return false
		}
	}
	return s != ""
}
