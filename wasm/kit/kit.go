//go:build wasip1

package kit

import "strconv"

// Results of on_request and on_response.
const (
	Continue int32 = 0
	Stop     int32 = 1
)

// Code is an error code of the host ABI.
type Code int32

// Host error codes (see package hostfns).
const (
	ErrNotFound    Code = -1
	ErrDenied      Code = -2
	ErrBadArgument Code = -3
	ErrTooSmall    Code = -4
	ErrOutOfRange  Code = -5
	ErrBadHandle   Code = -6
	ErrLimit       Code = -7
	ErrInternal    Code = -8
)

func (c Code) Error() string {
	switch c {
	case ErrNotFound:
		return "kit: not found"
	case ErrDenied:
		return "kit: denied"
	case ErrBadArgument:
		return "kit: bad argument"
	case ErrTooSmall:
		return "kit: buffer too small"
	case ErrOutOfRange:
		return "kit: out of memory range"
	case ErrBadHandle:
		return "kit: bad handle"
	case ErrLimit:
		return "kit: limit reached"
	case ErrInternal:
		return "kit: host error"
	}
	return "kit: error " + strconv.Itoa(int(c))
}

func check(r int32) error {
	if r < 0 {
		return Code(r)
	}
	return nil
}

// Encoding of a secret placed in a header.
type Encoding int32

const (
	Raw    Encoding = 0 // the value as stored
	Base64 Encoding = 1 // standard base64
	Basic  Encoding = 2 // base64 of "user:pass" ("user" alone means "user:")
)

// Alg is an HMAC hash.
type Alg int32

const (
	SHA256 Alg = 0
	SHA512 Alg = 1
)

// Level of a log message.
type Level int32

const (
	Debug Level = 0
	Info  Level = 1
	Warn  Level = 2
	Error Level = 3
)

// Secret is an opaque handle to a secret, valid during the current call.
type Secret struct{ h int32 }

// getter fetches a variable-length value through the (buf, cap) convention.
func getter(call func(b []byte) int32) ([]byte, error) {
	b := make([]byte, 256)
	n := call(b)
	if n == int32(ErrTooSmall) {
		if n = call(nil); n >= 0 {
			b = make([]byte, n)
			n = call(b)
		}
	}
	if n < 0 {
		return nil, Code(n)
	}
	return b[:n], nil
}

// Param returns the policy's configuration value for name.
func Param(name string) (string, bool) {
	np, nl := str(name)
	v, err := getter(func(b []byte) int32 {
		bp, bl := buf(b)
		return hostParam(np, nl, bp, bl)
	})
	return string(v), err == nil
}

// ParamOr returns Param(name), or def when it is absent.
func ParamOr(name, def string) string {
	if v, ok := Param(name); ok {
		return v
	}
	return def
}

// OpenSecret returns a handle to the named secret. It fails with
// ErrNotFound when the secret does not exist and ErrDenied when it may not
// be sent to this request's host.
func OpenSecret(name string) (Secret, error) {
	p, l := str(name)
	h := hostSecretOpen(p, l)
	if h < 0 {
		return Secret{}, Code(h)
	}
	return Secret{h: h}, nil
}

// Request fields for RequestField.
const (
	FieldMethod int32 = 0
	FieldURL    int32 = 1
	FieldHost   int32 = 2
	FieldPath   int32 = 3
	FieldQuery  int32 = 4
	FieldBody   int32 = 5
)

// RequestField returns one part of the request (FieldMethod...FieldBody).
// A part that already carries a spliced-in secret (the query after
// SetQuerySecret, the body after SetJSONSecret or SetFormSecret) is refused
// with an error: a policy never reads a secret back.
func RequestField(field int32) ([]byte, error) {
	return getter(func(b []byte) int32 {
		bp, bl := buf(b)
		return hostRequestGet(field, bp, bl)
	})
}

// RequestBody returns the request body as it stands now.
func RequestBody() ([]byte, error) { return RequestField(FieldBody) }

// Method returns the request method.
func Method() string { v, _ := RequestField(FieldMethod); return string(v) }

// URL returns the request URL.
func URL() string { v, _ := RequestField(FieldURL); return string(v) }

// Header returns the first value of a plain request header; a header
// holding a spliced-in secret reads as absent.
func Header(name string) (string, bool) {
	np, nl := str(name)
	v, err := getter(func(b []byte) int32 {
		bp, bl := buf(b)
		return hostHeaderGet(np, nl, bp, bl)
	})
	return string(v), err == nil
}

// SetHeader sets a plain (non-secret) header; the name keeps its case.
func SetHeader(name, value string) error {
	np, nl := str(name)
	vp, vl := str(value)
	return check(hostHeaderSet(np, nl, vp, vl))
}

// DelHeader removes a header.
func DelHeader(name string) error {
	np, nl := str(name)
	return check(hostHeaderDel(np, nl))
}

// SetHeaderSecret sets header name to prefix followed by the secret in the
// given encoding.
func SetHeaderSecret(name, prefix string, s Secret, enc Encoding) error {
	np, nl := str(name)
	pp, pl := str(prefix)
	return check(hostHeaderSetSecret(np, nl, pp, pl, s.h, int32(enc)))
}

// SetQuerySecret sets URL query parameter name to the secret.
func SetQuerySecret(name string, s Secret) error {
	np, nl := str(name)
	return check(hostQuerySetSecret(np, nl, s.h))
}

// SetJSONSecret sets the JSON body field at an sjson path to the secret.
func SetJSONSecret(path string, s Secret) error {
	pp, pl := str(path)
	return check(hostJSONSetSecret(pp, pl, s.h))
}

// SetFormSecret sets a field of a urlencoded form body to the secret.
func SetFormSecret(field string, s Secret) error {
	fp, fl := str(field)
	return check(hostFormSetSecret(fp, fl, s.h))
}

// HMAC returns HMAC(secret, data); the key never leaves the host. A
// secret shorter than 16 bytes (hostfns.MinHMACKeyLen) is refused with
// ErrDenied: its MAC would let a policy guess it.
func HMAC(s Secret, alg Alg, data []byte) ([]byte, error) {
	out := make([]byte, 64)
	dp, dl := buf(data)
	op, ol := buf(out)
	n := hostHMACSecret(s.h, int32(alg), dp, dl, op, ol)
	if n < 0 {
		return nil, Code(n)
	}
	return out[:n], nil
}

// Redact adds the secret to the response redaction set.
func Redact(s Secret) error { return check(hostRedact(s.h)) }

// Deny records why the request must not be sent and returns Stop, so a
// policy can write `return kit.Deny("...")`.
func Deny(reason string) int32 {
	p, l := str(reason)
	hostDeny(p, l)
	return Stop
}

// Log sends a diagnostic message to the host.
func Log(level Level, msg string) {
	p, l := str(msg)
	hostLog(int32(level), p, l)
}
