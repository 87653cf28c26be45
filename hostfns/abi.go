package hostfns

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// ModuleName is the import module name policies use for host functions.
const ModuleName = "agentsecrets"

// Error codes returned to the guest (see the package documentation).
const (
	ErrNotFound    int32 = -1
	ErrDenied      int32 = -2
	ErrBadArgument int32 = -3
	ErrTooSmall    int32 = -4
	ErrOutOfRange  int32 = -5
	ErrBadHandle   int32 = -6
	ErrLimit       int32 = -7
	ErrInternal    int32 = -8
)

// Fields of request_get.
const (
	FieldMethod int32 = 0
	FieldURL    int32 = 1
	FieldHost   int32 = 2
	FieldPath   int32 = 3
	FieldQuery  int32 = 4
	FieldBody   int32 = 5
)

// Encodings of header_set_secret.
const (
	EncodingRaw    int32 = 0
	EncodingBase64 int32 = 1
	EncodingBasic  int32 = 2
)

// Algorithms of hmac_secret.
const (
	HMACSHA256 int32 = 0
	HMACSHA512 int32 = 1
)

// MinHMACKeyLen is the shortest secret, in bytes, hmac_secret takes as a
// key. The guest chooses the data and gets the MAC, so it can test
// HMAC(candidate, data) for every candidate of a short secret (a PIN, a
// short password) and recover it. 16 bytes puts a random key (128 bits;
// 64 bits even as hex) out of reach and lets every real signing key
// through (webhook secrets are 32 bytes or more, AWS secret keys 40
// characters). RFC 2104's "at least the hash output" (64 bytes for
// SHA-512) would refuse those real keys.
const MinHMACKeyLen = 16

// Limits applied per call.
const (
	// MaxHandles is the number of secrets one call may open.
	MaxHandles = 64
	// MaxFailedOpens is the number of secret_open calls that may fail
	// (unknown or unbound key, or the gate's own error) in one call, over
	// its whole chain. Past it secret_open answers ErrLimit for any name
	// not already open, without asking the gate: a guest cannot probe
	// key names without bound, and an existing key answers as a missing
	// one does.
	MaxFailedOpens = 8
	// MaxValueLen bounds header values and names handed in by a guest.
	MaxValueLen = 64 << 10
	// MaxReasonLen bounds deny reasons and log messages kept by the host.
	MaxReasonLen = 256
	// MaxWrites is the number of writes (header_set, header_set_secret,
	// query_set_secret, json_set_secret, form_set_secret) one call may
	// attempt, over its whole chain. Guest memory is capped, but each
	// write copies guest bytes (a header value up to MaxValueLen) or a
	// secret into the request the host holds: without a limit only the
	// deadline would bound it. Every attempt counts, whatever its outcome,
	// so reaching the limit reveals nothing about a secret.
	MaxWrites = 256
	// MaxJSONDepth bounds the nesting of a body json_set_secret parses
	// (the request body is the caller's, and the JSON validator recurses
	// once per level: a deep enough body would overflow the stack).
	MaxJSONDepth = 10000
)

// Function describes one host function of the ABI: its name, the names of
// its i32 parameters (in order) and the Go code behind it. Every function
// returns one i32.
type Function struct {
	Name   string
	Params []string
	fn     hostFunc
}

// functions is the registration table, in the order of the package
// documentation. The guest-visible signature is len(Params) i32 params and
// one i32 result.
var functions = []Function{
	{"param", []string{"name", "name_len", "buf", "cap"}, fnParam},
	{"secret_open", []string{"name", "name_len"}, fnSecretOpen},
	{"request_get", []string{"field", "buf", "cap"}, fnRequestGet},
	{"header_get", []string{"name", "name_len", "buf", "cap"}, fnHeaderGet},
	{"header_set", []string{"name", "name_len", "value", "value_len"}, fnHeaderSet},
	{"header_del", []string{"name", "name_len"}, fnHeaderDel},
	{"header_set_secret", []string{"name", "name_len", "prefix", "prefix_len", "handle", "encoding"}, fnHeaderSetSecret},
	{"query_set_secret", []string{"name", "name_len", "handle"}, fnQuerySetSecret},
	{"json_set_secret", []string{"path", "path_len", "handle"}, fnJSONSetSecret},
	{"form_set_secret", []string{"field", "field_len", "handle"}, fnFormSetSecret},
	{"hmac_secret", []string{"handle", "alg", "data", "data_len", "out", "cap"}, fnHMACSecret},
	{"redact", []string{"handle"}, fnRedact},
	{"deny", []string{"reason", "reason_len"}, fnDeny},
	{"log", []string{"level", "msg", "msg_len"}, fnLog},
}

// Functions returns the ABI table (name and parameter names of each host
// function), for import validation and documentation.
func Functions() []Function {
	out := make([]Function, len(functions))
	copy(out, functions)
	return out
}

// Lookup returns the host function named name.
func Lookup(name string) (Function, bool) {
	for _, f := range functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// Instantiate registers the "agentsecrets" host module in r.
func Instantiate(ctx context.Context, r wazero.Runtime) (api.Module, error) {
	b := r.NewHostModuleBuilder(ModuleName)
	i32 := []api.ValueType{api.ValueTypeI32}
	for _, f := range functions {
		params := make([]api.ValueType, len(f.Params))
		for i := range params {
			params[i] = api.ValueTypeI32
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(goModuleFunc(f.fn), params, i32).
			WithParameterNames(f.Params...).
			WithResultNames("result").
			Export(f.Name)
	}
	m, err := b.Instantiate(ctx)
	if err != nil {
		return nil, fmt.Errorf("hostfns: instantiate %q: %w", ModuleName, err)
	}
	return m, nil
}
