package hostfns

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

const secretValue = `s3cr"et\+/=&%é-Hq8ZpLw2Vn`

type gate map[string]string

func (g gate) Open(name string) ([]byte, error) {
	if name == "ELSEWHERE" {
		return nil, fmt.Errorf("%w: %q", ErrSecretDenied, name)
	}
	if name == "BROKEN" {
		return nil, errors.New("vault locked")
	}
	v, ok := g[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrSecretNotFound, name)
	}
	return []byte(v), nil
}

// harness runs host functions through the abiproxy guest, which re-exports
// each of them as call_<name>, against real guest memory.
type harness struct {
	t    testing.TB
	mod  api.Module
	call *Call
	ctx  context.Context
	next uint32 // bump allocator in guest memory for test strings
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	if _, err := Instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile("../testdata/guests/abiproxy.wasm")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateWithConfig(ctx, code, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("https://api.example.com/v1/items?b=2&a=1")
	c := &Call{
		Req:     &Request{Method: "POST", URL: u, Header: http.Header{"X-Plain": {"yes"}}},
		Params:  map[string]string{"key": "API_KEY", "name": "X-Api-Key"},
		Secrets: gate{"API_KEY": secretValue, "USER": "alice:pw"},
	}
	c.Begin(c.Params)
	return &harness{t: t, mod: mod, call: c, ctx: WithCall(ctx, c), next: 1024}
}

// str copies s into guest memory and returns (ptr, len).
func (h *harness) str(s string) (uint32, uint32) {
	p := h.next
	if !h.mod.Memory().WriteString(p, s) {
		h.t.Fatalf("test string does not fit")
	}
	h.next += uint32(len(s)) + 8
	return p, uint32(len(s))
}

// buf reserves n bytes of guest memory.
func (h *harness) buf(n uint32) uint32 {
	p := h.next
	h.next += n + 8
	return p
}

func (h *harness) read(p, n uint32) string {
	b, ok := h.mod.Memory().Read(p, n)
	if !ok {
		h.t.Fatalf("read out of range")
	}
	return string(b)
}

func (h *harness) invoke(name string, args ...uint32) int32 {
	h.t.Helper()
	fn := h.mod.ExportedFunction("call_" + name)
	if fn == nil {
		h.t.Fatalf("no proxy for %q", name)
	}
	params := make([]uint64, len(args))
	for i, a := range args {
		params[i] = uint64(a)
	}
	res, err := fn.Call(h.ctx, params...)
	if err != nil {
		h.t.Fatalf("%s: %v", name, err)
	}
	return int32(res[0])
}

func (h *harness) open(name string) uint32 {
	h.t.Helper()
	p, n := h.str(name)
	r := h.invoke("secret_open", p, n)
	if r < 0 {
		h.t.Fatalf("secret_open(%q) = %d", name, r)
	}
	return uint32(r)
}

func TestDocMatchesTable(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^//\t([a-z_]+)\(([a-z_, ]*)\) ->`)
	var documented []string
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, m[1]+"("+m[2]+")")
	}
	var table []string
	for _, f := range Functions() {
		table = append(table, f.Name+"("+strings.Join(f.Params, ", ")+")")
	}
	if !slices.Equal(documented, table) {
		t.Errorf("doc.go and the registration table differ:\ndoc:   %v\ntable: %v", documented, table)
	}
}

func TestParamAndGetterConvention(t *testing.T) {
	h := newHarness(t)
	name, nl := h.str("name")
	out := h.buf(64)
	if got := h.invoke("param", name, nl, out, 64); got != 9 || h.read(out, 9) != "X-Api-Key" {
		t.Errorf("param(name) = %d %q", got, h.read(out, 9))
	}
	if got := h.invoke("param", name, nl, 0, 0); got != 9 {
		t.Errorf("param with cap 0 = %d, want the length 9", got)
	}
	small := h.buf(4)
	if got := h.invoke("param", name, nl, small, 4); got != ErrTooSmall {
		t.Errorf("param into 4 bytes = %d, want ErrTooSmall", got)
	}
	missing, ml := h.str("nope")
	if got := h.invoke("param", missing, ml, out, 64); got != ErrNotFound {
		t.Errorf("param(nope) = %d, want ErrNotFound", got)
	}
}

func TestSecretOpen(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		want int32
	}{{"MISSING", ErrNotFound}, {"ELSEWHERE", ErrDenied}, {"BROKEN", ErrInternal}, {"", ErrBadArgument}, {"A B", ErrBadArgument}}
	for _, tt := range tests {
		p, n := h.str(tt.name)
		if got := h.invoke("secret_open", p, n); got != tt.want {
			t.Errorf("secret_open(%q) = %d, want %d", tt.name, got, tt.want)
		}
	}
	if name, err := h.call.OpenError(); name != "MISSING" || !errors.Is(err, ErrSecretNotFound) {
		t.Errorf("OpenError() = %q, %v; want the first failure", name, err)
	}
	a, b := h.open("API_KEY"), h.open("API_KEY")
	if a != b {
		t.Errorf("opening twice gave %d and %d, want the same handle", a, b)
	}
	if got := h.call.Opened(); !slices.Equal(got, []string{"API_KEY"}) {
		t.Errorf("Opened() = %v", got)
	}
}

func TestHandleLimit(t *testing.T) {
	h := newHarness(t)
	names := map[string]string{}
	for i := range MaxHandles + 1 {
		names[fmt.Sprintf("K%d", i)] = "v"
	}
	h.call.Secrets = gate(names)
	for i := range MaxHandles {
		h.open(fmt.Sprintf("K%d", i))
	}
	p, n := h.str(fmt.Sprintf("K%d", MaxHandles))
	if got := h.invoke("secret_open", p, n); got != ErrLimit {
		t.Errorf("secret_open past the limit = %d, want ErrLimit", got)
	}
}

func TestHandlesDoNotOutliveTheirInvocation(t *testing.T) {
	h := newHarness(t)
	old := h.open("API_KEY")
	hn, hl := h.str("X-K")
	if got := h.invoke("header_set_secret", hn, hl, 0, 0, old, 0); got != 0 {
		t.Fatalf("header_set_secret with a fresh handle = %d", got)
	}
	h.call.Begin(nil)
	for _, fn := range []string{"redact", "header_set_secret", "query_set_secret"} {
		var got int32
		switch fn {
		case "redact":
			got = h.invoke(fn, old)
		case "header_set_secret":
			got = h.invoke(fn, hn, hl, 0, 0, old, 0)
		default:
			got = h.invoke(fn, hn, hl, old)
		}
		if got != ErrBadHandle {
			t.Errorf("%s with a stale handle = %d, want ErrBadHandle", fn, got)
		}
	}
	h.call.Reset()
	h.call.Begin(nil)
	if got := h.invoke("redact", old); got != ErrBadHandle {
		t.Errorf("redact after Reset = %d, want ErrBadHandle", got)
	}
	if len(h.call.RedactSet()) != 0 {
		t.Error("RedactSet not empty after Reset")
	}
}

func TestRequestGet(t *testing.T) {
	h := newHarness(t)
	h.call.Req.Body = []byte(`{"a":1}`)
	want := map[int32]string{
		FieldMethod: "POST", FieldURL: "https://api.example.com/v1/items?b=2&a=1", FieldHost: "api.example.com",
		FieldPath: "/v1/items", FieldQuery: "b=2&a=1", FieldBody: `{"a":1}`,
	}
	out := h.buf(256)
	for f, w := range want {
		n := h.invoke("request_get", uint32(f), out, 256)
		if n < 0 || h.read(out, uint32(n)) != w {
			t.Errorf("request_get(%d) = %d %q, want %q", f, n, h.read(out, max(0, uint32(n))), w)
		}
	}
	if got := h.invoke("request_get", 99, out, 256); got != ErrBadArgument {
		t.Errorf("request_get(99) = %d, want ErrBadArgument", got)
	}
}

func TestPlainHeaders(t *testing.T) {
	h := newHarness(t)
	n, nl := h.str("x-plain")
	out := h.buf(16)
	if got := h.invoke("header_get", n, nl, out, 16); got != 3 || h.read(out, 3) != "yes" {
		t.Errorf("header_get(x-plain) = %d", got)
	}
	name, namel := h.str("x-Trace-ID")
	val, vall := h.str("abc")
	if got := h.invoke("header_set", name, namel, val, vall); got != 0 || h.call.Req.Header["x-Trace-ID"][0] != "abc" {
		t.Errorf("header_set = %d, headers %v", got, h.call.Req.Header)
	}
	bad, badl := h.str("a\r\nInjected: 1")
	if got := h.invoke("header_set", name, namel, bad, badl); got != ErrBadArgument {
		t.Errorf("header_set with CRLF = %d, want ErrBadArgument", got)
	}
	sp, spl := h.str("Bad Name")
	if got := h.invoke("header_set", sp, spl, val, vall); got != ErrBadArgument {
		t.Errorf("header_set with a space in the name = %d", got)
	}
	if got := h.invoke("header_del", n, nl); got != 0 || len(h.call.Req.Header["X-Plain"]) != 0 {
		t.Errorf("header_del = %d, headers %v", got, h.call.Req.Header)
	}
}

func TestHeaderSetSecretEncodings(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		key, prefix string
		enc         int32
		want        string
		code        int32
	}{
		{"API_KEY", "Bearer ", EncodingRaw, "Bearer " + secretValue, 0},
		{"API_KEY", "", EncodingBase64, b64([]byte(secretValue)), 0},
		{"USER", "Basic ", EncodingBasic, "Basic " + b64([]byte("alice:pw")), 0},
		{"API_KEY", "Basic ", EncodingBasic, "Basic " + b64([]byte(secretValue+":")), 0},
		{"LONG", "", EncodingBase64, b64([]byte(strings.Repeat(secretValue, 7))), 0},
		{"API_KEY", "", 7, "", ErrBadArgument},
		{"API_KEY", "a\nb", EncodingRaw, "", ErrBadArgument},
		{"NEWLINE", "", EncodingRaw, "", ErrBadArgument},
	}
	for _, tt := range tests {
		h := newHarness(t)
		h.call.Secrets = gate{"API_KEY": secretValue, "USER": "alice:pw", "NEWLINE": "a\r\nX: y", "LONG": strings.Repeat(secretValue, 7)}
		hd := h.open(tt.key)
		n, nl := h.str("Authorization")
		p, pl := h.str(tt.prefix)
		got := h.invoke("header_set_secret", n, nl, p, pl, hd, uint32(tt.enc))
		if got != tt.code || h.call.Req.Header.Get("Authorization") != tt.want {
			t.Errorf("%s enc %d: code %d header %q, want %d %q", tt.key, tt.enc, got, h.call.Req.Header.Get("Authorization"), tt.code, tt.want)
		}
	}
}

func TestQuerySetSecret(t *testing.T) {
	h := newHarness(t)
	h.call.Req.URL.RawQuery = "api_key=old&API_KEY=keep&x=1"
	hd := h.open("API_KEY")
	n, nl := h.str("api_key")
	if got := h.invoke("query_set_secret", n, nl, hd); got != 0 {
		t.Fatalf("query_set_secret = %d", got)
	}
	q := h.call.Req.URL.Query()
	if q.Get("api_key") != secretValue || q.Get("API_KEY") != "keep" || q.Get("x") != "1" || len(q["api_key"]) != 1 {
		t.Errorf("query = %q", h.call.Req.URL.RawQuery)
	}
}

func TestJSONSetSecret(t *testing.T) {
	tests := []struct {
		body, ctype, path string
		code              int32
		want              string
	}{
		{"", "", "client_secret", 0, `{"client_secret":"` + jsonEscape(secretValue) + `"}`},
		{`{"a":1}`, "application/json; charset=utf-8", "b.c", 0, `{"a":1,"b":{"c":"` + jsonEscape(secretValue) + `"}}`},
		{`{"a":1}`, "application/vnd.api+json", "a", 0, `{"a":"` + jsonEscape(secretValue) + `"}`},
		{`{bad`, "", "a", ErrBadArgument, `{bad`},
		{`{}`, "text/plain", "a", ErrBadArgument, `{}`},
		{`{}`, "", "", ErrBadArgument, `{}`},
	}
	for _, tt := range tests {
		h := newHarness(t)
		h.call.Req.Body = []byte(tt.body)
		if tt.ctype != "" {
			h.call.Req.Header.Set("Content-Type", tt.ctype)
		}
		hd := h.open("API_KEY")
		p, pl := h.str(tt.path)
		got := h.invoke("json_set_secret", p, pl, hd)
		if got != tt.code || !sameJSON(h.call.Req.Body, tt.want) {
			t.Errorf("body %q path %q: code %d body %s, want %d %s", tt.body, tt.path, got, h.call.Req.Body, tt.code, tt.want)
		}
	}
}

// sameJSON compares JSON documents by value, and anything else by bytes.
func sameJSON(got []byte, want string) bool {
	var g, w any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal([]byte(want), &w) != nil {
		return string(got) == want
	}
	return reflect.DeepEqual(g, w)
}

func jsonEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

func TestFormSetSecret(t *testing.T) {
	h := newHarness(t)
	h.call.Req.Body = []byte("grant_type=client_credentials&client_secret=old")
	hd := h.open("API_KEY")
	f, fl := h.str("client_secret")
	if got := h.invoke("form_set_secret", f, fl, hd); got != 0 {
		t.Fatalf("form_set_secret = %d", got)
	}
	v, err := url.ParseQuery(string(h.call.Req.Body))
	if err != nil || v.Get("client_secret") != secretValue || v.Get("grant_type") != "client_credentials" || len(v["client_secret"]) != 1 {
		t.Errorf("body = %q", h.call.Req.Body)
	}
	if h.call.Req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", h.call.Req.Header.Get("Content-Type"))
	}
}

func TestHMACSecret(t *testing.T) {
	h := newHarness(t)
	hd := h.open("API_KEY")
	d, dl := h.str("payload")
	for _, tt := range []struct {
		alg  int32
		want []byte
	}{
		{HMACSHA256, mac(sha256.New, "payload")},
		{HMACSHA512, mac(sha512.New, "payload")},
	} {
		out := h.buf(64)
		n := h.invoke("hmac_secret", hd, uint32(tt.alg), d, dl, out, 64)
		if n != int32(len(tt.want)) || h.read(out, uint32(n)) != string(tt.want) {
			t.Errorf("alg %d: n=%d, MAC differs from crypto/hmac", tt.alg, n)
		}
	}
	out := h.buf(16)
	if got := h.invoke("hmac_secret", hd, 0, d, dl, out, 16); got != ErrTooSmall {
		t.Errorf("hmac into 16 bytes = %d, want ErrTooSmall", got)
	}
	if got := h.invoke("hmac_secret", hd, 9, d, dl, out, 16); got != ErrBadArgument {
		t.Errorf("hmac alg 9 = %d, want ErrBadArgument", got)
	}
}

func mac(newHash func() hash.Hash, data string) []byte {
	m := hmac.New(newHash, []byte(secretValue))
	m.Write([]byte(data))
	return m.Sum(nil)
}

func TestDenyAndLog(t *testing.T) {
	h := newHarness(t)
	var logged []string
	h.call.Log = func(level int, msg string) { logged = append(logged, fmt.Sprint(level, msg)) }
	r, rl := h.str("no\x00 thanks\n")
	if got := h.invoke("deny", r, rl); got != 0 {
		t.Fatalf("deny = %d", got)
	}
	if denied, reason := h.call.Denied(); !denied || reason != "no? thanks?" {
		t.Errorf("Denied() = %v %q", denied, reason)
	}
	m, ml := h.str(strings.Repeat("x", 1000))
	if got := h.invoke("log", 2, m, ml); got != 0 || len(logged) != 1 || len(logged[0]) != 1+MaxReasonLen {
		t.Errorf("log = %d, logged %d messages", got, len(logged))
	}
	if got := h.invoke("log", 9, m, ml); got != ErrBadArgument {
		t.Errorf("log level 9 = %d", got)
	}
	h.call.Begin(nil)
	if denied, _ := h.call.Denied(); denied {
		t.Error("Begin did not clear the denial")
	}
}

func TestNoCallInContext(t *testing.T) {
	h := newHarness(t)
	h.ctx = context.Background()
	p, n := h.str("key")
	if got := h.invoke("param", p, n, 0, 0); got != ErrInternal {
		t.Errorf("param without a Call = %d, want ErrInternal", got)
	}
}

// FuzzHostABI calls a host function with arbitrary arguments: it must
// never panic, must answer a documented code, and must never write the
// secret (in any form) into guest memory.
func FuzzHostABI(f *testing.F) {
	f.Add(uint8(0), uint32(0), uint32(3), uint32(1024), uint32(64), uint32(0), uint32(0))
	f.Add(uint8(6), uint32(16), uint32(13), uint32(0xfffffff0), uint32(0x7fffffff), uint32(0x10000), uint32(1))
	f.Add(uint8(10), uint32(0), uint32(0), uint32(0), uint32(65536), uint32(2048), uint32(64))
	h := newHarness(f)
	fns := Functions()
	f.Fuzz(func(t *testing.T, fn uint8, a0, a1, a2, a3, a4, a5 uint32) {
		h.t, h.next = t, 1024
		h.call.Reset()
		h.call.Req.Body = nil
		h.call.Begin(h.call.Params)
		hd := h.open("API_KEY")
		if a0%4 == 0 {
			a0 = hd // a real handle sometimes, in the first slot
		}
		def := fns[int(fn)%len(fns)]
		args := []uint32{a0, a1, a2, a3, a4, a5}[:len(def.Params)]
		got := h.invoke(def.Name, args...)
		if got < ErrInternal {
			t.Fatalf("%s%v = %d, not a documented code", def.Name, args, got)
		}
		mem, _ := h.mod.Memory().Read(0, h.mod.Memory().Size())
		for _, form := range []string{secretValue, base64.StdEncoding.EncodeToString([]byte(secretValue))} {
			if bytes.Contains(mem, []byte(form)) {
				t.Fatalf("%s%v wrote the secret into guest memory", def.Name, args)
			}
		}
	})
}

// TestGettersRefuseInjectedSecrets proves that a value spliced in by a
// *_set_secret function cannot be read back into guest memory through
// header_get or request_get, by the policy that set it or a later one of
// the chain, while plain fields stay readable.
func TestGettersRefuseInjectedSecrets(t *testing.T) {
	h := newHarness(t)
	h.call.Req.Header.Set("Content-Type", "application/json")
	k := h.open("API_KEY")
	name, namel := h.str("Authorization")
	prefix, prefixl := h.str("Bearer ")
	if got := h.invoke("header_set_secret", name, namel, prefix, prefixl, k, uint32(EncodingRaw)); got != 0 {
		t.Fatalf("header_set_secret = %d", got)
	}
	param, paraml := h.str("api_key")
	if got := h.invoke("query_set_secret", param, paraml, k); got != 0 {
		t.Fatalf("query_set_secret = %d", got)
	}
	path, pathl := h.str("auth.key")
	if got := h.invoke("json_set_secret", path, pathl, k); got != 0 {
		t.Fatalf("json_set_secret = %d", got)
	}
	h.call.Begin(nil) // the next policy of the chain
	out := h.buf(512)
	lower, lowerl := h.str("authorization")
	if got := h.invoke("header_get", lower, lowerl, out, 512); got != ErrDenied {
		t.Errorf("header_get(authorization) after header_set_secret = %d, want ErrDenied", got)
	}
	for _, f := range []int32{FieldURL, FieldQuery, FieldBody} {
		if got := h.invoke("request_get", uint32(f), h.buf(512), 512); got != ErrDenied {
			t.Errorf("request_get(%d) after a secret was spliced in = %d, want ErrDenied", f, got)
		}
	}
	if b, _ := h.mod.Memory().Read(0, h.mod.Memory().Size()); bytes.Contains(b, []byte(secretValue)) {
		t.Error("the secret reached guest memory")
	}
	for f, want := range map[int32]string{FieldMethod: "POST", FieldHost: "api.example.com", FieldPath: "/v1/items"} {
		if n := h.invoke("request_get", uint32(f), out, 512); n < 0 || h.read(out, uint32(n)) != want {
			t.Errorf("request_get(%d) = %d, want %q", f, n, want)
		}
	}
	plain, plainl := h.str("X-Plain")
	if got := h.invoke("header_get", plain, plainl, out, 512); got != 3 {
		t.Errorf("header_get(X-Plain) = %d, want 3", got)
	}
	v, vl := h.str("replaced")
	if got := h.invoke("header_set", name, namel, v, vl); got != 0 {
		t.Fatalf("header_set = %d", got)
	}
	if got := h.invoke("header_get", name, namel, out, 512); got != int32(len("replaced")) {
		t.Errorf("header_get after a plain header_set replaced the secret = %d", got)
	}
}

// TestFormSecretHidesBody covers form_set_secret the same way.
func TestFormSecretHidesBody(t *testing.T) {
	h := newHarness(t)
	k := h.open("API_KEY")
	field, fieldl := h.str("client_secret")
	if got := h.invoke("form_set_secret", field, fieldl, k); got != 0 {
		t.Fatalf("form_set_secret = %d", got)
	}
	out := h.buf(512)
	if got := h.invoke("request_get", uint32(FieldBody), out, 512); got != ErrDenied {
		t.Errorf("request_get(body) after form_set_secret = %d, want ErrDenied", got)
	}
	h.call.Reset()
	h.call.Begin(nil)
	h.call.Req.Body = []byte("a=1")
	if got := h.invoke("request_get", uint32(FieldBody), out, 512); got != 3 {
		t.Errorf("request_get(body) after Reset = %d, want 3", got)
	}
}

// TestJSONPathIsNoOracle: a gjson query in a json_set_secret path compares
// the value already in the body (a secret spliced in before) with a
// pattern the guest chose; whether a later splice then succeeds would tell
// the guest if it matched, revealing the secret prefix by prefix. Only
// plain paths of keys and indexes are accepted.
func TestJSONPathIsNoOracle(t *testing.T) {
	probe := func(pattern string) int32 {
		h := newHarness(t)
		k := h.open("API_KEY")
		for _, path := range []string{"p.0.0", `p.#(0%"` + pattern + `")`} {
			p, pl := h.str(path)
			h.invoke("json_set_secret", p, pl, k)
		}
		p, pl := h.str("p.0.x")
		return h.invoke("json_set_secret", p, pl, k)
	}
	if hit, miss := probe(secretValue[:2]+"*"), probe("x*"); hit != miss {
		t.Errorf("a later splice answers %d after a matching query and %d after another: the body is an oracle", hit, miss)
	}
	tests := []struct {
		path string
		code int32
		want string
	}{
		{`a.#(0%"s*")`, ErrBadArgument, `{}`},
		{`a.#`, ErrBadArgument, `{}`},
		{`a|b`, ErrBadArgument, `{}`},
		{`@reverse`, ErrBadArgument, `{}`},
		{`a.*`, ErrBadArgument, `{}`},
		{`a?`, ErrBadArgument, `{}`},
		{`a\#b.c\@d`, 0, `{"a#b":{"c@d":"` + jsonEscape(secretValue) + `"}}`},
	}
	for _, tt := range tests {
		h := newHarness(t)
		h.call.Req.Body = []byte(`{}`)
		k := h.open("API_KEY")
		p, pl := h.str(tt.path)
		if got := h.invoke("json_set_secret", p, pl, k); got != tt.code || !sameJSON(h.call.Req.Body, tt.want) {
			t.Errorf("path %q: code %d body %s, want %d %s", tt.path, got, h.call.Req.Body, tt.code, tt.want)
		}
	}
}

// TestRepeatedBasicSpliceKeepsSetSmall: splicing the same Basic credential
// again and again adds its password to the redaction set once, so a guest
// that loops cannot grow the set until its deadline.
func TestRepeatedBasicSpliceKeepsSetSmall(t *testing.T) {
	for _, secret := range []string{"user:long-enough-password", "token-without-colon"} {
		c := &Call{}
		for range 1000 {
			if _, ok := encodeSecret(c, []byte(secret), EncodingBasic, []byte("Basic ")); !ok {
				t.Fatalf("%s: not encoded", secret)
			}
		}
		if n := len(c.RedactSet()); n != 1 {
			t.Errorf("%s: redaction set has %d values after 1000 splices, want 1", secret, n)
		}
	}
}

// TestHMACSecretRefusesShortKeys: the MAC under a short secret (a PIN, a
// short password) is an offline-guessing oracle, since the guest can
// compute HMAC(candidate, data) itself. hmac_secret refuses a key shorter
// than MinHMACKeyLen with ErrDenied, writes nothing, and records a refusal
// that names the key, never its value; at the minimum and above it signs.
func TestHMACSecretRefusesShortKeys(t *testing.T) {
	key32 := "whsec_Q7vXk2Lm9PzR4tWbHq8ZpLw2Vn" // 32 bytes, a webhook secret's shape
	tests := []struct {
		name, value string
		code        int32
	}{
		{"PIN", "493817", ErrDenied},
		{"ALMOST", strings.Repeat("k", MinHMACKeyLen-1), ErrDenied},
		{"EXACT", strings.Repeat("k", MinHMACKeyLen), 0},
		{"HOOK_SECRET", key32, 0},
	}
	for _, tt := range tests {
		for _, alg := range []struct {
			id      int32
			newHash func() hash.Hash
		}{{HMACSHA256, sha256.New}, {HMACSHA512, sha512.New}} {
			h := newHarness(t)
			h.call.Secrets = gate{tt.name: tt.value}
			hd := h.open(tt.name)
			d, dl := h.str("payload")
			out, _ := h.str(strings.Repeat("\xee", 64))
			n := h.invoke("hmac_secret", hd, uint32(alg.id), d, dl, out, 64)
			if tt.code != 0 {
				if n != tt.code || h.read(out, 64) != strings.Repeat("\xee", 64) {
					t.Errorf("%s (%d bytes) alg %d: hmac_secret = %d, want %d and nothing written", tt.name, len(tt.value), alg.id, n, tt.code)
				}
				assertShortKeyRefusal(t, h.call, tt.name, tt.value)
				continue
			}
			m := hmac.New(alg.newHash, []byte(tt.value))
			m.Write([]byte("payload"))
			want := m.Sum(nil)
			if n != int32(len(want)) || h.read(out, uint32(n)) != string(want) {
				t.Errorf("%s alg %d: hmac_secret = %d, MAC differs from crypto/hmac", tt.name, alg.id, n)
			}
			if err := h.call.Refusal(); err != nil {
				t.Errorf("%s alg %d: Refusal() = %v after a MAC was written", tt.name, alg.id, err)
			}
		}
	}
}

// assertShortKeyRefusal checks the refusal hmac_secret recorded for a
// short key: it wraps ErrShortKey, names the key, gives a hint naming it,
// and holds no form of the value.
func assertShortKeyRefusal(t *testing.T, c *Call, key, value string) {
	t.Helper()
	err := c.Refusal()
	var ske *ShortKeyError
	if !errors.Is(err, ErrShortKey) || !errors.As(err, &ske) || ske.Key != key {
		t.Fatalf("Refusal() = %v, want a *ShortKeyError for %q", err, key)
	}
	if !strings.Contains(err.Error(), strconv.Quote(key)) || !strings.Contains(ske.Hint(), key) {
		t.Errorf("refusal %q / hint %q does not name %q", err, ske.Hint(), key)
	}
	for _, form := range []string{value, base64.StdEncoding.EncodeToString([]byte(value))} {
		if strings.Contains(err.Error(), form) || strings.Contains(ske.Hint(), form) {
			t.Errorf("refusal %q / hint %q holds the value", err, ske.Hint())
		}
	}
}

// TestSecretContentTypeIsNoOracle: json_set_secret and form_set_secret
// parse the request's Content-Type. Were a secret spliced into it (after a
// guest-chosen prefix), whether the splice succeeds would depend on the
// secret: "application/json; a=1; " followed by a secret "a=..." is a
// duplicate parameter, and so a guess of the secret's first part. Both
// refuse a Content-Type that holds a secret, whatever the value.
func TestSecretContentTypeIsNoOracle(t *testing.T) {
	probe := func(fn, ctype, secret string) int32 {
		h := newHarness(t)
		h.call.Secrets = gate{"K": secret}
		k := h.open("K")
		n, nl := h.str("Content-Type")
		p, pl := h.str(ctype + "; a=1; ")
		if got := h.invoke("header_set_secret", n, nl, p, pl, k, uint32(EncodingRaw)); got != 0 {
			t.Fatalf("header_set_secret(Content-Type) = %d", got)
		}
		f, fl := h.str("field")
		got := h.invoke(fn, f, fl, k)
		if got == 0 {
			return got
		}
		if err := h.call.Refusal(); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%s refused with Refusal() = %v, want a reason without the value", fn, err)
		}
		return got
	}
	for _, tt := range []struct{ fn, ctype string }{
		{"json_set_secret", "application/json"},
		{"form_set_secret", "application/x-www-form-urlencoded"},
	} {
		hit, miss := probe(tt.fn, tt.ctype, "a=2"), probe(tt.fn, tt.ctype, "b=2")
		if hit != miss || hit != ErrBadArgument {
			t.Errorf("%s answers %d for a secret guessed right and %d for another, want ErrBadArgument for both", tt.fn, hit, miss)
		}
	}
}

// TestJSONSetSecretRefusesDeepNesting: json_set_secret validates the
// request body, which the agent chose, with gjson, whose validator
// recurses once per nesting level. A body of a few MiB of '[' (the proxy
// takes 32 MiB) overflows the goroutine stack, a fatal error no recover
// catches: the whole process, proxy included, dies. A body nested deeper
// than MaxJSONDepth is refused before it is parsed. The check runs in a
// child process with a small stack limit, so that a regression crashes the
// child, not the test binary.
func TestJSONSetSecretRefusesDeepNesting(t *testing.T) {
	if os.Getenv("HOSTFNS_DEEP_JSON_CHILD") == "1" {
		debug.SetMaxStack(64 << 20)
		h := newHarness(t)
		h.call.Req.Header.Set("Content-Type", "application/json")
		h.call.Req.Body = []byte(strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20))
		k := h.open("API_KEY")
		p, pl := h.str("0")
		if got := h.invoke("json_set_secret", p, pl, k); got != ErrBadArgument {
			t.Fatalf("json_set_secret on a body nested %d deep = %d, want ErrBadArgument", 1<<20, got)
		}
		if err := h.call.Refusal(); err == nil || !strings.Contains(err.Error(), "nested") {
			t.Fatalf("Refusal() = %v, want one naming the nesting", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestJSONSetSecretRefusesDeepNesting$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HOSTFNS_DEEP_JSON_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		if len(out) > 2000 {
			out = out[:2000]
		}
		t.Fatalf("child: %v\n%s", err, out)
	}

	// At the limit, a body is still taken.
	h := newHarness(t)
	h.call.Req.Header.Set("Content-Type", "application/json")
	h.call.Req.Body = []byte(strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth))
	k := h.open("API_KEY")
	p, pl := h.str("0")
	if got := h.invoke("json_set_secret", p, pl, k); got != 0 {
		t.Errorf("json_set_secret on a body nested %d deep = %d, want 0", MaxJSONDepth, got)
	}
	// Brackets inside strings are not nesting.
	h = newHarness(t)
	h.call.Req.Body = []byte(`{"s":"` + strings.Repeat(`[{\"`, MaxJSONDepth+1) + `"}`)
	k = h.open("API_KEY")
	p, pl = h.str("a")
	if got := h.invoke("json_set_secret", p, pl, k); got != 0 {
		t.Errorf("json_set_secret on a body with brackets in a string = %d, want 0", got)
	}
}

// TestFormSpliceKeepsJSONSplicedSecretWhole: form_set_secret rewrites the
// body as '&'-separated pairs, dropping empty pairs and pairs whose key is
// the field. On a body where json_set_secret put a secret (JSON escaping
// leaves '&' and '=' as they are), that cuts the secret: "ab&&cd" would go
// out as "ab&cd", and with a guessed key part of it would vanish, leaving
// fragments an echoing upstream returns and the redactor does not know.
// The splice is refused and the body left as it was.
func TestFormSpliceKeepsJSONSplicedSecretWhole(t *testing.T) {
	const secret = "ab&&cd&ef=gh-Hq8ZpLw2Vn"
	h := newHarness(t)
	h.call.Secrets = gate{"K": secret}
	k := h.open("K")
	path, pathl := h.str("a")
	if got := h.invoke("json_set_secret", path, pathl, k); got != 0 {
		t.Fatalf("json_set_secret = %d", got)
	}
	before := string(h.call.Req.Body)
	ct, ctl := h.str("Content-Type")
	form, forml := h.str("application/x-www-form-urlencoded")
	if got := h.invoke("header_set", ct, ctl, form, forml); got != 0 {
		t.Fatalf("header_set(Content-Type) = %d", got)
	}
	field, fieldl := h.str("ef")
	if got := h.invoke("form_set_secret", field, fieldl, k); got != ErrBadArgument || string(h.call.Req.Body) != before {
		t.Errorf("form_set_secret over a JSON-spliced secret = %d, body %q; want ErrBadArgument and %q", got, h.call.Req.Body, before)
	}
	if err := h.call.Refusal(); err == nil || !errors.Is(err, ErrUnplaceable) || strings.Contains(err.Error(), secret) {
		t.Errorf("Refusal() = %v, want ErrUnplaceable without the value", err)
	}
}

// TestWritesAreLimitedPerCall: guest memory is capped, but every write
// copies guest bytes (up to 64 KiB a header) or a secret into the request
// the host holds. The writes of one call, over the whole chain, are
// limited to MaxWrites; every attempt counts, whatever its outcome, so
// reaching the limit says nothing about a secret. Reset starts afresh.
func TestWritesAreLimitedPerCall(t *testing.T) {
	for _, fn := range []string{"header_set", "header_set_secret", "query_set_secret", "json_set_secret", "form_set_secret"} {
		h := newHarness(t)
		h.call.Req.Body = nil
		k := h.open("API_KEY")
		v, vl := h.str("v")
		call := func(i int) int32 {
			n, nl := h.str(fmt.Sprintf("f%d", i))
			switch fn {
			case "header_set":
				return h.invoke(fn, n, nl, v, vl)
			case "header_set_secret":
				return h.invoke(fn, n, nl, v, vl, k, uint32(EncodingRaw))
			}
			return h.invoke(fn, n, nl, k)
		}
		for i := range MaxWrites {
			if i == MaxWrites/2 {
				h.call.Begin(nil) // the next policy of the chain shares the budget
				k = h.open("API_KEY")
			}
			if got := call(i); got != 0 {
				t.Fatalf("%s #%d = %d, want 0", fn, i, got)
			}
			h.next = 1024 + 64 // reuse guest memory
		}
		if got := call(MaxWrites); got != ErrLimit {
			t.Errorf("%s past MaxWrites = %d, want ErrLimit", fn, got)
		}
		h.call.Reset()
		h.call.Begin(nil)
		h.call.Req.Body = nil
		k = h.open("API_KEY")
		if got := call(0); got != 0 {
			t.Errorf("%s after Reset = %d, want 0", fn, got)
		}
	}
}

// TestHeaderSetSecretRefusesFramingHeaders: the transport writes Host,
// Content-Length, Transfer-Encoding and Trailer itself and the
// connection headers describe one hop, so a secret set there would be
// dropped and the request would leave without its credential. Each is
// refused in any case, with a reason that names the header and not the
// value; an ordinary header still takes the secret.
func TestHeaderSetSecretRefusesFramingHeaders(t *testing.T) {
	const secret = "sk_framing_secret_value"
	for _, name := range []string{"Host", "host", "Content-Length", "TRANSFER-ENCODING", "Trailer", "Connection", "Keep-Alive", "Proxy-Connection", "te", "Upgrade", "X-Api-Key"} {
		h := newHarness(t)
		h.call.Secrets = gate{"K": secret}
		k := h.open("K")
		n, nl := h.str(name)
		p, pl := h.str("")
		got := h.invoke("header_set_secret", n, nl, p, pl, k, uint32(EncodingRaw))
		if name == "X-Api-Key" {
			if got != 0 || h.call.Req.Header.Get(name) != secret {
				t.Errorf("header_set_secret(%s) = %d, header %q", name, got, h.call.Req.Header.Get(name))
			}
			continue
		}
		if got != ErrBadArgument {
			t.Errorf("header_set_secret(%s) = %d, want ErrBadArgument", name, got)
		}
		err := h.call.Refusal()
		if err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), secret) {
			t.Errorf("header_set_secret(%s): Refusal() = %v, want one naming the header, not the value", name, err)
		}
		for k, vs := range h.call.Req.Header {
			if strings.Contains(strings.Join(vs, ","), secret) {
				t.Errorf("header_set_secret(%s) left the secret in header %s", name, k)
			}
		}
	}
}

// probeGuest calls secret_open for n distinct names (KEY_AA, KEY_BA, ...,
// KEY_ZA, KEY_AB, ...) in one invocation and returns how many of the
// answers were not ErrLimit: how many names it learnt something about.
// Assembled with wat2wasm from:
//
//	(module
//	  (import "agentsecrets" "secret_open" (func $open (param i32 i32) (result i32)))
//	  (memory (export "memory") 1)
//	  (data (i32.const 0) "KEY_AA")
//	  (func (export "probe") (param $n i32) (result i32)
//	    (local $i i32) (local $found i32)
//	    (block $done
//	      (loop $next
//	        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
//	        (i32.store8 (i32.const 4) (i32.add (i32.const 65) (i32.rem_u (local.get $i) (i32.const 26))))
//	        (i32.store8 (i32.const 5) (i32.add (i32.const 65) (i32.div_u (local.get $i) (i32.const 26))))
//	        (if (i32.ne (call $open (i32.const 0) (i32.const 6)) (i32.const -7))
//	          (then (local.set $found (i32.add (local.get $found) (i32.const 1)))))
//	        (local.set $i (i32.add (local.get $i) (i32.const 1)))
//	        (br $next)))
//	    (local.get $found)))
var probeGuest = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0c, 0x02, 0x60,
	0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x02, 0x1c,
	0x01, 0x0c, 0x61, 0x67, 0x65, 0x6e, 0x74, 0x73, 0x65, 0x63, 0x72, 0x65,
	0x74, 0x73, 0x0b, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x5f, 0x6f, 0x70,
	0x65, 0x6e, 0x00, 0x00, 0x03, 0x02, 0x01, 0x01, 0x05, 0x03, 0x01, 0x00,
	0x01, 0x07, 0x12, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02,
	0x00, 0x05, 0x70, 0x72, 0x6f, 0x62, 0x65, 0x00, 0x01, 0x0a, 0x4d, 0x01,
	0x4b, 0x01, 0x02, 0x7f, 0x02, 0x40, 0x03, 0x40, 0x20, 0x01, 0x20, 0x00,
	0x4f, 0x0d, 0x01, 0x41, 0x04, 0x41, 0xc1, 0x00, 0x20, 0x01, 0x41, 0x1a,
	0x70, 0x6a, 0x3a, 0x00, 0x00, 0x41, 0x05, 0x41, 0xc1, 0x00, 0x20, 0x01,
	0x41, 0x1a, 0x6e, 0x6a, 0x3a, 0x00, 0x00, 0x41, 0x00, 0x41, 0x06, 0x10,
	0x00, 0x41, 0x79, 0x47, 0x04, 0x40, 0x20, 0x02, 0x41, 0x01, 0x6a, 0x21,
	0x02, 0x0b, 0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, 0x0c, 0x00, 0x0b,
	0x0b, 0x20, 0x02, 0x0b, 0x0b, 0x0c, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x06,
	0x4b, 0x45, 0x59, 0x5f, 0x41, 0x41,
}

// countingGate records the names it is asked for.
type countingGate struct {
	gate
	asked []string
}

func (g *countingGate) Open(name string) ([]byte, error) {
	g.asked = append(g.asked, name)
	return g.gate.Open(name)
}

// TestFailedOpensAreLimitedPerCall: a guest cannot probe key names without
// bound. Failed secret_open calls (unknown or unbound keys) count against
// MaxFailedOpens for the whole call; past it every new name answers
// ErrLimit without the gate being asked, an existing key included (else
// ErrLimit against success would still tell which names exist).
func TestFailedOpensAreLimitedPerCall(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	if _, err := Instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateWithConfig(ctx, probeGuest, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	// KEY_AB (name number 26) and KEY_ZZ (675) exist.
	g := &countingGate{gate: gate{"KEY_ZZ": secretValue, "KEY_AB": secretValue}}
	c := &Call{Req: &Request{Method: "GET"}, Secrets: g}
	probe := func(n uint64) int32 {
		t.Helper()
		res, err := mod.ExportedFunction("probe").Call(WithCall(ctx, c), n)
		if err != nil {
			t.Fatal(err)
		}
		return int32(res[0])
	}

	c.Begin(nil)
	if got := probe(1000); got != MaxFailedOpens || len(g.asked) != MaxFailedOpens {
		t.Fatalf("probing 1000 names: %d answered, the gate asked %d times; want %d", got, len(g.asked), MaxFailedOpens)
	}
	c.Begin(nil) // the next policy of the chain shares the budget
	if got := probe(700); got != 0 || slices.Contains(g.asked, "KEY_ZZ") {
		t.Errorf("after the budget: %d answered (gate asked %v); want 0, KEY_ZZ included", got, g.asked)
	}

	c.Reset()
	c.Begin(nil)
	g.asked = nil
	if got := probe(27); got != MaxFailedOpens || len(g.asked) != MaxFailedOpens {
		t.Errorf("after Reset: %d answered, gate asked %v; want a fresh budget of %d, KEY_AB not asked", got, g.asked, MaxFailedOpens)
	}
}
