package install

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// ServersKey is the top-level key holding the servers in both clients.
const ServersKey = "mcpServers"

// Server is the entry a client starts: a command, its arguments and the
// environment variables the client passes it (none: an existing "env" of
// the entry is kept as it is).
type Server struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env,omitempty"`
}

// ErrMalformed marks a config file that cannot be merged into safely.
var ErrMalformed = errors.New("malformed config")

// Merge returns config with mcpServers[name] running srv, and whether that
// changed anything. Everything else is kept, in order, and so are the
// arguments the entry's args already add after srv's leading words ("mcp",
// "serve"), less the flags srv.Args sets; the result is indented with two
// spaces. An empty config counts as {}.
func Merge(config []byte, name string, srv Server) ([]byte, bool, error) {
	// Without its byte order mark, so that errors say where they are.
	config = bytes.TrimPrefix(config, []byte("\xef\xbb\xbf"))
	root, err := parseObject(config)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %s", ErrMalformed, describe(err, config))
	}
	servers := object{}
	if raw, ok := root.get(ServersKey); ok && !isNull(raw) {
		if servers, err = parseObject(raw); err != nil {
			return nil, false, fmt.Errorf("%w: %s is not a JSON object", ErrMalformed, ServersKey)
		}
	}
	entry := object{}
	if raw, ok := servers.get(name); ok {
		if e, err := parseObject(raw); err == nil {
			entry = e
		}
	}
	command, args := marshal(srv.Command), marshal(mergeArgs(entry, srv.Args))
	if string(args) == "null" {
		args = []byte("[]")
	}
	env, envSame := mergeEnv(entry, srv.Env)
	if _, ok := servers.get(name); ok && sameJSON(entry, "command", command) && sameJSON(entry, "args", args) && envSame {
		return nil, false, nil
	}
	entry.set("command", command)
	entry.set("args", args)
	if env != nil {
		entry.set("env", env.encode())
	}
	servers.set(name, entry.encode())
	root.set(ServersKey, servers.encode())
	var out bytes.Buffer
	if err := json.Indent(&out, root.encode(), "", "  "); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	out.WriteByte('\n')
	return out.Bytes(), true, nil
}

// mergeArgs is want followed by the arguments the entry's args add after
// want's leading words (those before its first flag): flags such as
// "--agent NAME" the user put there, less the flags want sets itself
// ("--project X" or "--project=X"). Args that do not start with those
// words are replaced by want.
func mergeArgs(entry object, want []string) []string {
	var old []string
	if raw, ok := entry.get("args"); !ok || json.Unmarshal(raw, &old) != nil {
		return want
	}
	words := 0
	for words < len(want) && !strings.HasPrefix(want[words], "-") {
		words++
	}
	if words == 0 || len(old) < words || !slices.Equal(old[:words], want[:words]) {
		return want
	}
	var set []string
	for _, a := range want[words:] {
		if strings.HasPrefix(a, "-") {
			set = append(set, a)
		}
	}
	args := slices.Clone(want)
	for i := words; i < len(old); i++ {
		flag, _, inline := strings.Cut(old[i], "=")
		if strings.HasPrefix(flag, "-") && slices.Contains(set, flag) {
			if !inline {
				i++ // its value
			}
			continue
		}
		args = append(args, old[i])
	}
	return args
}

// mergeEnv is the entry's "env" object with the variables of vars set,
// every other variable kept (one the user added, such as an agent id), and
// whether it already held them. With no vars it is nil, and the entry's
// env is left as it is.
func mergeEnv(entry object, vars map[string]string) (object, bool) {
	if len(vars) == 0 {
		return nil, true
	}
	env := object{}
	if raw, ok := entry.get("env"); ok {
		if e, err := parseObject(raw); err == nil {
			env = e
		}
	}
	same := true
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		v := marshal(vars[k])
		if !sameJSON(env, k, v) {
			same = false
			env.set(k, v)
		}
	}
	return env, same
}

// describe words a JSON error for a human, with the line and column of a
// syntax error.
func describe(err error, data []byte) string {
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early (unclosed brace or bracket?)"
	case errors.As(err, &syn):
		// The decoder counts from the value it was reading; a whole-input
		// parse gives the offset in the file.
		var v any
		if whole := json.Unmarshal(data, &v); whole != nil {
			errors.As(whole, &syn)
		}
		line, col := position(data, syn.Offset)
		return fmt.Sprintf("line %d, column %d: %v", line, col, err)
	}
	return err.Error()
}

// position turns a byte offset into a line and column, from 1.
func position(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 1), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n') - 1
	return line, col
}

// member is one key of a JSON object with its raw value.
type member struct {
	key   string
	value json.RawMessage
}

// object is a JSON object that keeps its key order and raw values.
type object []member

// parseObject reads exactly one JSON object (an empty input is {}).
func parseObject(data []byte) (object, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return object{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("the top level is not a JSON object")
	}
	o := object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		o = append(o, member{key, raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return o, nil
}

// get returns the value of the last occurrence of key, the one JSON
// parsers keep.
func (o object) get(key string) (json.RawMessage, bool) {
	for i := len(o) - 1; i >= 0; i-- {
		if o[i].key == key {
			return o[i].value, true
		}
	}
	return nil, false
}

// set replaces the last occurrence of key, or appends it.
func (o *object) set(key string, value json.RawMessage) {
	for i := len(*o) - 1; i >= 0; i-- {
		if (*o)[i].key == key {
			(*o)[i].value = value
			return
		}
	}
	*o = append(*o, member{key, value})
}

// encode writes the object compactly.
func (o object) encode() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(marshal(m.key))
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// marshal encodes v without HTML escaping; v is a string or []string.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(b.Bytes(), "\n")
}

func sameJSON(o object, key string, want []byte) bool {
	raw, ok := o.get(key)
	if !ok {
		return false
	}
	var a, b any
	return json.Unmarshal(raw, &a) == nil && json.Unmarshal(want, &b) == nil && reflect.DeepEqual(a, b)
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }
