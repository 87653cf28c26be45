package cli

import (
	"bytes"
	"encoding/json"
)

// redactDecodedBody redacts a JSON body as the model reads it: decoded (the
// client parses the structured content, and a string body is shown as its
// text). An echo the byte redactor cannot see comes out once decoded: a
// JSON document nested in a string escapes a secret twice, and an encoder
// may use escapes of its own. So every string, member names included, is
// redacted again; the body is re-encoded only when that found something.
func redactDecodedBody(body json.RawMessage, redact func(string) (string, int)) (any, int) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return body, 0
	}
	v, n := redactStrings(v, redact)
	if n == 0 && bytes.IndexByte(body, '\\') >= 0 {
		// Decoding keeps only the last of members of the same name; the
		// model still reads the others in the body passed on as it came.
		n = redactTokens(body, redact)
	}
	if n == 0 {
		return body, 0
	}
	return v, n
}

// redactTokens counts the redactions in every string of body, member
// names included, duplicate members too.
func redactTokens(body json.RawMessage, redact func(string) (string, int)) int {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	n := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		if s, ok := tok.(string); ok {
			_, k := redact(s)
			n += k
		}
	}
}

// redactStrings redacts every string of a decoded JSON value.
func redactStrings(v any, redact func(string) (string, int)) (any, int) {
	switch x := v.(type) {
	case string:
		return redact(x)
	case []any:
		n := 0
		for i := range x {
			var k int
			x[i], k = redactStrings(x[i], redact)
			n += k
		}
		return x, n
	case map[string]any:
		out := make(map[string]any, len(x))
		n := 0
		for k, e := range x {
			k, a := redact(k)
			e, b := redactStrings(e, redact)
			out[k], n = e, n+a+b
		}
		return out, n
	}
	return v, 0
}
