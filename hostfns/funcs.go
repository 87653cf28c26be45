package hostfns

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"math"
	"mime"
	"net/http"
	"strings"

	"github.com/The-17/agentsecrets/internal/httpsyntax"
	"github.com/tetratelabs/wazero/api"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// hostFunc is the shape every host function below is written in: c is the
// call state (never nil), the i32 parameters are read from stack, and the
// i32 result is returned.
type hostFunc func(c *Call, m api.Module, stack []uint64) int32

// goModuleFunc adapts fn to wazero: it finds the Call carried by the
// context, answers ErrInternal when there is none, and writes the result
// to stack[0].
func goModuleFunc(fn hostFunc) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		c := CallFrom(ctx)
		if c == nil {
			stack[0] = api.EncodeI32(ErrInternal)
			return
		}
		stack[0] = api.EncodeI32(fn(c, m, stack))
	}
}

func arg(stack []uint64, i int) uint32 { return uint32(stack[i]) }

// read returns the guest bytes at (ptr, n); the slice aliases guest memory
// and is only valid until the guest runs again.
func read(m api.Module, ptr, n uint32) ([]byte, int32) {
	mem := m.Memory()
	if mem == nil {
		return nil, ErrOutOfRange
	}
	b, ok := mem.Read(ptr, n)
	if !ok {
		return nil, ErrOutOfRange
	}
	return b, 0
}

// output writes v to the guest buffer (buf, cap) following the getter
// convention: cap 0 asks for the length only.
func output[T string | []byte](m api.Module, buf, capacity uint32, v T) int32 {
	dst, code := read(m, buf, capacity)
	if code != 0 {
		return code
	}
	if len(v) > math.MaxInt32 {
		return ErrLimit
	}
	if capacity == 0 {
		return int32(len(v))
	}
	if uint32(len(v)) > capacity {
		return ErrTooSmall
	}
	copy(dst, v)
	return int32(len(v))
}

func fnParam(c *Call, m api.Module, stack []uint64) int32 {
	name, code := read(m, arg(stack, 0), arg(stack, 1))
	if code != 0 {
		return code
	}
	v, ok := c.Params[string(name)]
	if !ok {
		return ErrNotFound
	}
	return output(m, arg(stack, 2), arg(stack, 3), v)
}

func fnSecretOpen(c *Call, m api.Module, stack []uint64) int32 {
	name, code := read(m, arg(stack, 0), arg(stack, 1))
	if code != 0 {
		return code
	}
	if !validSecretName(name) {
		return ErrBadArgument
	}
	return c.open(name)
}

func validSecretName(b []byte) bool {
	if len(b) == 0 || len(b) > 256 {
		return false
	}
	for _, ch := range b {
		if ch <= ' ' || ch >= 0x7f {
			return false
		}
	}
	return true
}

func fnRequestGet(c *Call, m api.Module, stack []uint64) int32 {
	if c.Req == nil {
		return ErrInternal
	}
	buf, capacity := arg(stack, 1), arg(stack, 2)
	r := c.Req
	switch field := int32(arg(stack, 0)); field {
	case FieldMethod:
		return output(m, buf, capacity, r.Method)
	case FieldBody:
		if c.secretBody {
			return ErrDenied
		}
		return output(m, buf, capacity, r.Body)
	case FieldURL, FieldHost, FieldPath, FieldQuery:
		if r.URL == nil {
			return ErrNotFound
		}
		if c.secretQuery && (field == FieldURL || field == FieldQuery) {
			return ErrDenied
		}
		return output(m, buf, capacity, urlField(c, field))
	default:
		return ErrBadArgument
	}
}

func urlField(c *Call, field int32) string {
	u := c.Req.URL
	switch field {
	case FieldURL:
		return u.String()
	case FieldHost:
		return u.Host
	case FieldPath:
		return u.EscapedPath()
	}
	return u.RawQuery
}

func fnHeaderGet(c *Call, m api.Module, stack []uint64) int32 {
	if c.Req == nil {
		return ErrInternal
	}
	name, code := read(m, arg(stack, 0), arg(stack, 1))
	if code != 0 {
		return code
	}
	vs := findHeader(c.Req.Header, name)
	if len(vs) == 0 {
		return ErrNotFound
	}
	if c.secretHeader(string(name)) {
		return ErrDenied
	}
	return output(m, arg(stack, 2), arg(stack, 3), vs[0])
}

func findHeader(h http.Header, name []byte) []string {
	if vs, ok := h[http.CanonicalHeaderKey(string(name))]; ok {
		return vs
	}
	for k, vs := range h {
		if strings.EqualFold(k, string(name)) {
			return vs
		}
	}
	return nil
}

func fnHeaderSet(c *Call, m api.Module, stack []uint64) int32 {
	if c.Req == nil {
		return ErrInternal
	}
	if !c.write() {
		return ErrLimit
	}
	name, value, code := headerArgs(m, stack)
	if code != 0 {
		return code
	}
	if !httpsyntax.ValidHeaderName(name) || !httpsyntax.ValidHeaderValue(value) {
		return ErrBadArgument
	}
	setHeader(c.Req, headerName(name), string(value))
	c.clearSecretHeader(string(name))
	return 0
}

// headerArgs reads the (name, name_len, value, value_len) parameters that
// header_set and header_set_secret start with; the value is bounded by
// MaxValueLen.
func headerArgs(m api.Module, stack []uint64) (name, value []byte, code int32) {
	if name, code = read(m, arg(stack, 0), arg(stack, 1)); code != 0 {
		return nil, nil, code
	}
	if value, code = read(m, arg(stack, 2), arg(stack, 3)); code != 0 {
		return nil, nil, code
	}
	if len(value) > MaxValueLen {
		return nil, nil, ErrLimit
	}
	return name, value, 0
}

func fnHeaderDel(c *Call, m api.Module, stack []uint64) int32 {
	if c.Req == nil {
		return ErrInternal
	}
	name, code := read(m, arg(stack, 0), arg(stack, 1))
	if code != 0 {
		return code
	}
	if !httpsyntax.ValidHeaderName(name) {
		return ErrBadArgument
	}
	delHeader(c.Req.Header, name)
	c.clearSecretHeader(string(name))
	return 0
}

// commonHeaders avoids allocating the most frequent header names.
var commonHeaders = []string{"Authorization", "X-Api-Key", "Content-Type", "X-Signature"}

func headerName(b []byte) string {
	for _, h := range commonHeaders {
		if h == string(b) {
			return h
		}
	}
	return string(b)
}

func delHeader(h http.Header, name []byte) {
	for k := range h {
		if strings.EqualFold(k, string(name)) {
			delete(h, k)
		}
	}
}

// setHeader replaces every header matching name without case by one header
// whose key is name exactly as given.
func setHeader(r *Request, name, value string) {
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	if len(r.Header) > 0 {
		delHeader(r.Header, []byte(name))
	}
	r.Header[name] = []string{value}
}

func fnHeaderSetSecret(c *Call, m api.Module, stack []uint64) int32 {
	if c.Req == nil {
		return ErrInternal
	}
	if !c.write() {
		return ErrLimit
	}
	name, prefix, code := headerArgs(m, stack)
	if code != 0 {
		return code
	}
	h := c.lookup(int32(arg(stack, 4)))
	if h == nil {
		return ErrBadHandle
	}
	if !httpsyntax.ValidHeaderName(name) || !httpsyntax.ValidHeaderValue(prefix) {
		return ErrBadArgument
	}
	if httpsyntax.FramingHeader(name) {
		return c.refuse("header %.64q cannot carry a secret: the transport writes it itself", name)
	}
	value, ok := encodeSecret(c, h.value, int32(arg(stack, 5)), prefix)
	if !ok || !httpsyntax.ValidHeaderValue([]byte(value[len(prefix):])) {
		return ErrBadArgument
	}
	setHeader(c.Req, headerName(name), value)
	c.markSecretHeader(string(name))
	return 0
}

// MinBasicPassword is the shortest Basic password redacted on its own.
const MinBasicPassword = 6

// encodeSecret returns prefix followed by the secret in the given encoding,
// built in a single allocation.
//
// For a Basic credential the password alone is added to the redaction set
// when it is at least MinBasicPassword bytes (a shorter one would blank out
// ordinary text).
func encodeSecret(c *Call, secret []byte, encoding int32, prefix []byte) (string, bool) {
	enc := base64.StdEncoding
	var b strings.Builder
	switch encoding {
	case EncodingRaw:
		b.Grow(len(prefix) + len(secret))
		b.Write(prefix)
		b.Write(secret)
		return b.String(), true
	case EncodingBase64:
	case EncodingBasic:
		if len(secret) == 0 {
			return "", false
		}
		if i := bytes.IndexByte(secret, ':'); i < 0 {
			userOnly := make([]byte, 0, len(secret)+1)
			secret = append(append(userOnly, secret...), ':')
			c.addExtra(secret)
		} else if password := secret[i+1:]; len(password) >= MinBasicPassword {
			// An upstream that checks the credential may echo its parts:
			// the password alone is a secret too (the user name is not).
			c.addExtra(password)
		}
	default:
		return "", false
	}
	b.Grow(len(prefix) + enc.EncodedLen(len(secret)))
	b.Write(prefix)
	var chunk [64]byte // 48 input bytes (a multiple of 3) encode to 64
	for len(secret) > 48 {
		enc.Encode(chunk[:], secret[:48])
		b.Write(chunk[:])
		secret = secret[48:]
	}
	n := enc.EncodedLen(len(secret))
	enc.Encode(chunk[:n], secret)
	b.Write(chunk[:n])
	return b.String(), true
}

func fnQuerySetSecret(c *Call, m api.Module, stack []uint64) int32 {
	if c.Req == nil || c.Req.URL == nil {
		return ErrInternal
	}
	if !c.write() {
		return ErrLimit
	}
	name, code := read(m, arg(stack, 0), arg(stack, 1))
	if code != 0 {
		return code
	}
	h := c.lookup(int32(arg(stack, 2)))
	if h == nil {
		return ErrBadHandle
	}
	if len(name) == 0 || len(name) > 256 {
		return ErrBadArgument
	}
	c.Req.URL.RawQuery = setPair(c.Req.URL.RawQuery, string(name), h.value)
	c.Req.URL.ForceQuery = false
	c.secretQuery = true
	return 0
}

func fnFormSetSecret(c *Call, m api.Module, stack []uint64) int32 {
	if c.Req == nil {
		return ErrInternal
	}
	if !c.write() {
		return ErrLimit
	}
	field, code := read(m, arg(stack, 0), arg(stack, 1))
	if code != 0 {
		return code
	}
	h := c.lookup(int32(arg(stack, 2)))
	if h == nil {
		return ErrBadHandle
	}
	const formType = "application/x-www-form-urlencoded"
	if len(field) == 0 || len(field) > 256 {
		return ErrBadArgument
	}
	if c.secretHeader("Content-Type") {
		return c.refuse(secretContentType)
	}
	if c.secretJSON {
		// Split at '&' and rewritten pair by pair, the JSON-spliced
		// secret would go out cut into fragments no redactor knows.
		return c.refuse("the request body is JSON holding a secret, not a form")
	}
	if !contentTypeIs(c.Req.Header, func(mt string) bool { return mt == formType }) {
		return c.refuse("a form field goes in a body of type %s, and the request's Content-Type is another", formType)
	}
	c.Req.Body = []byte(setPair(string(c.Req.Body), string(field), h.value))
	c.secretBody = true
	if len(findHeader(c.Req.Header, []byte("Content-Type"))) == 0 {
		setHeader(c.Req, "Content-Type", formType)
	}
	return 0
}

// secretContentType is why a body splice is refused while the Content-Type
// header holds a secret: parsing it (after a prefix the guest chose) would
// make the splice's outcome depend on the secret's value.
const secretContentType = "the request's Content-Type holds a secret"

// contentTypeIs reports whether the request has no Content-Type or one whose
// media type satisfies ok.
func contentTypeIs(h http.Header, ok func(mediaType string) bool) bool {
	vs := findHeader(h, []byte("Content-Type"))
	if len(vs) == 0 {
		return true
	}
	mt, _, err := mime.ParseMediaType(vs[0])
	return err == nil && ok(mt)
}

func isJSONType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// setPair sets name=value in a urlencoded string, keeping every other pair
// verbatim and in order; pairs whose decoded key equals name are replaced.
func setPair(raw, name string, value []byte) string {
	var b strings.Builder
	b.Grow(len(raw) + len(name) + 3*len(value) + 2)
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || pairKey(pair) == name {
			continue
		}
		b.WriteString(pair)
		b.WriteByte('&')
	}
	b.WriteString(escapeComponent(name))
	b.WriteByte('=')
	b.WriteString(escapeComponent(string(value)))
	return b.String()
}

func pairKey(pair string) string {
	k, _, _ := strings.Cut(pair, "=")
	if u, err := unescapeComponent(k); err == nil {
		return u
	}
	return k
}

func fnJSONSetSecret(c *Call, m api.Module, stack []uint64) int32 {
	if c.Req == nil {
		return ErrInternal
	}
	if !c.write() {
		return ErrLimit
	}
	path, code := read(m, arg(stack, 0), arg(stack, 1))
	if code != 0 {
		return code
	}
	h := c.lookup(int32(arg(stack, 2)))
	if h == nil {
		return ErrBadHandle
	}
	if len(path) == 0 || len(path) > 1024 || !PlainJSONPath(path) {
		return ErrBadArgument
	}
	if c.secretHeader("Content-Type") {
		return c.refuse(secretContentType)
	}
	if !contentTypeIs(c.Req.Header, isJSONType) {
		return c.refuse("a JSON field goes in a JSON body, and the request's Content-Type is another")
	}
	body := c.Req.Body
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if !jsonDepthWithin(body, MaxJSONDepth) {
		return c.refuse("the request body is nested more than %d levels deep", MaxJSONDepth)
	}
	if !gjson.ValidBytes(body) {
		return c.refuse("the request body is not valid JSON")
	}
	out, err := sjson.SetBytes(body, string(path), string(h.value))
	if err != nil || !gjson.ValidBytes(out) {
		return c.refuse("the field path %q cannot be set in the request body", path)
	}
	c.Req.Body = out
	c.secretBody, c.secretJSON = true, true
	if len(findHeader(c.Req.Header, []byte("Content-Type"))) == 0 {
		setHeader(c.Req, "Content-Type", "application/json")
	}
	return 0
}

// jsonDepthWithin reports whether the arrays and objects of body nest at
// most limit levels deep, without recursing (gjson's validator recurses once
// per level). Brackets inside strings do not count; a secret spliced in
// before is inside a string, so it does not decide the answer.
func jsonDepthWithin(body []byte, limit int) bool {
	depth, inString := 0, false
	for i := 0; i < len(body); i++ {
		switch ch := body[i]; {
		case inString:
			if ch == '\\' {
				i++
			} else if ch == '"' {
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == '[' || ch == '{':
			if depth++; depth > limit {
				return false
			}
		case ch == ']' || ch == '}':
			depth--
		}
	}
	return true
}

// PlainJSONPath reports whether path names keys and indexes only. sjson
// hands a path holding a query, wildcard, modifier or pipe (| # @ * ?, not
// escaped by a backslash) to gjson, which would compare the values already
// in the body, a secret spliced in before among them, with a pattern the
// guest chose: the outcome of a later splice would reveal the secret.
func PlainJSONPath(path []byte) bool {
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '\\':
			i++
		case '|', '#', '@', '*', '?':
			return false
		}
	}
	return true
}

func fnHMACSecret(c *Call, m api.Module, stack []uint64) int32 {
	h := c.lookup(int32(arg(stack, 0)))
	if h == nil {
		return ErrBadHandle
	}
	data, code := read(m, arg(stack, 2), arg(stack, 3))
	if code != 0 {
		return code
	}
	out, capacity := arg(stack, 4), arg(stack, 5)
	if _, code := read(m, out, capacity); code != 0 {
		return code
	}
	var newHash func() hash.Hash
	switch int32(arg(stack, 1)) {
	case HMACSHA256:
		newHash = sha256.New
	case HMACSHA512:
		newHash = sha512.New
	default:
		return ErrBadArgument
	}
	// The guest could test HMAC(candidate, data) itself for every
	// candidate of a short secret: refuse it as a key.
	if len(h.value) < MinHMACKeyLen {
		return c.refuseShortKey(h)
	}
	mac := hmac.New(newHash, h.value)
	mac.Write(data)
	return output(m, out, capacity, mac.Sum(nil))
}

func fnRedact(c *Call, m api.Module, stack []uint64) int32 {
	h := c.lookup(int32(arg(stack, 0)))
	if h == nil {
		return ErrBadHandle
	}
	h.redact = true
	return 0
}

func fnDeny(c *Call, m api.Module, stack []uint64) int32 {
	reason, code := read(m, arg(stack, 0), arg(stack, 1))
	if code != 0 {
		// Still deny: a guest that wants to stop the call is obeyed.
		c.denied = true
		return code
	}
	c.denied, c.reason = true, sanitize(reason)
	return 0
}

func fnLog(c *Call, m api.Module, stack []uint64) int32 {
	level := int32(arg(stack, 0))
	msg, code := read(m, arg(stack, 1), arg(stack, 2))
	if code != 0 {
		return code
	}
	if level < 0 || level > 3 {
		return ErrBadArgument
	}
	if c.Log != nil {
		c.Log(int(level), sanitize(msg))
	}
	return 0
}

// sanitize keeps printable ASCII of a guest-provided text, bounded to
// MaxReasonLen bytes.
func sanitize(b []byte) string {
	if len(b) > MaxReasonLen {
		b = b[:MaxReasonLen]
	}
	out := make([]byte, 0, len(b))
	for _, ch := range b {
		if ch >= ' ' && ch < 0x7f {
			out = append(out, ch)
		} else {
			out = append(out, '?')
		}
	}
	return string(out)
}
