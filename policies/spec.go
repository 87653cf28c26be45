package policies

import (
	"fmt"
	"strings"

	"github.com/The-17/agentsecrets/hostfns"
	"github.com/The-17/agentsecrets/internal/httpsyntax"
	"github.com/The-17/agentsecrets/vault"
)

// Spec is one policy of a chain and its configuration, e.g.
// {Name: "bearer", Params: {"key": "STRIPE_KEY"}}. Name is a built-in, a
// registered name or a path to a .wasm file.
type Spec struct {
	Name   string
	Params map[string]string
}

// injection describes a built-in injection style: the param its "name"
// part goes to (empty when the argument is just KEY) and how to check it.
type injection struct {
	nameParam string
	form      string
	check     func(string) bool
}

var injections = map[string]injection{
	"bearer":     {form: "KEY"},
	"basic":      {form: "KEY"},
	"redact":     {form: "KEY"},
	"header":     {nameParam: "name", form: "Header-Name=KEY", check: credentialHeader},
	"query":      {nameParam: "param", form: "param=KEY", check: validComponent},
	"body-field": {nameParam: "path", form: "path=KEY", check: validPath},
	"form-field": {nameParam: "field", form: "field=KEY", check: validComponent},
}

// ParseInjection maps an injection flag to a built-in policy spec. style is
// one of bearer, basic, redact (arg "KEY") or header, query, body-field,
// form-field (arg "name=KEY", split at the last '='). Names keep their case;
// KEY must be a key name as the vault has them (UPPER_SNAKE_CASE:
// [A-Z][A-Z0-9]*(_[A-Z0-9]+)*). A body-field path names keys and indexes
// only (no query, wildcard, modifier or pipe; escape with a backslash).
func ParseInjection(style, arg string) (Spec, error) {
	inj, ok := injections[style]
	if !ok {
		return Spec{}, fmt.Errorf("policies: unknown injection style %q (want bearer, basic, header, query, body-field, form-field or redact)", style)
	}
	key := arg
	params := make(map[string]string, 2)
	if inj.nameParam != "" {
		i := strings.LastIndexByte(arg, '=')
		if i < 0 {
			return Spec{}, &InjectionError{Style: style, Form: inj.form, Part: "=", Arg: arg, Bad: arg}
		}
		name := arg[:i]
		key = arg[i+1:]
		if name == "" || !inj.check(name) {
			return Spec{}, &InjectionError{Style: style, Form: inj.form, Part: inj.nameParam, Arg: arg, Bad: name}
		}
		params[inj.nameParam] = name
	}
	if !vault.IsKeyName(key) {
		return Spec{}, &InjectionError{Style: style, Form: inj.form, Part: "key", Arg: arg, Bad: key}
	}
	params["key"] = key
	return Spec{Name: style, Params: params}, nil
}

// InjectionError is an injection argument ParseInjection refused: which
// part of it is wrong. Its message quotes the argument; a front end that
// must not print it (a value typed where a key name goes) words its own
// from the fields.
type InjectionError struct {
	Style string // the injection style: bearer, header, ...
	Form  string // the form the argument takes: KEY, Header-Name=KEY, ...
	// Part is what is wrong: "=" (no '=' in the argument), the param the
	// name goes to (name, param, path, field), or "key".
	Part string
	Arg  string // the argument
	Bad  string // the part that is wrong (the argument when Part is "=")
}

func (e *InjectionError) Error() string {
	switch e.Part {
	case "=":
		return fmt.Sprintf("policies: %s injection wants %s, got %q", e.Style, e.Form, e.Arg)
	case "key":
		return fmt.Sprintf("policies: %s injection: invalid secret name %q in %q (want %s, KEY like STRIPE_KEY)", e.Style, e.Bad, e.Arg, e.Form)
	}
	return fmt.Sprintf("policies: %s injection: invalid %s %q in %q (want %s)", e.Style, e.Part, e.Bad, e.Arg, e.Form)
}

// ParseParams turns "k=v" arguments (from --param) into a params map.
func ParseParams(args []string) (map[string]string, error) {
	out := make(map[string]string, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("policies: param %s is not name=value", vault.Characters(a)) // a value may be typed where it goes
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("policies: param %q given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// credentialHeader accepts a header name that can carry a credential: a
// valid name the transport neither writes itself nor drops (Host,
// Content-Length, Connection and the like are refused).
func credentialHeader(name string) bool {
	return httpsyntax.ValidHeaderName(name) && !httpsyntax.FramingHeader(name)
}

// validComponent accepts printable query/form names without separators.
func validComponent(s string) bool {
	if len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '&' || c == '#' || c == '=' {
			return false
		}
	}
	return true
}

// validPath accepts sjson paths of printable characters that name keys and
// indexes only: no empty key, and no query, wildcard, modifier or pipe
// (| # @ * ? not escaped by a backslash), which the host refuses.
func validPath(s string) bool {
	if len(s) > 1024 {
		return false
	}
	empty := true // the current key is empty so far
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '\\':
			if i++; i == len(s) || s[i] < ' ' || s[i] >= 0x7f {
				return false
			}
		case '.':
			if empty {
				return false
			}
			empty = true
			continue
		}
		empty = false
	}
	return !empty && hostfns.PlainJSONPath([]byte(s))
}
