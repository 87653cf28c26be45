package policies

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/The-17/agentsecrets/hostfns"
)

const wasiModule = wasi_snapshot_preview1.ModuleName

// Info describes a policy module for "policy inspect".
type Info struct {
	SHA256  string   `json:"sha256"`  // hex digest of the module bytes
	Size    int      `json:"size"`    // bytes
	Exports []string `json:"exports"` // e.g. "on_request() -> i32", "memory (1..65536 pages)"
	Imports []string `json:"imports"` // e.g. "agentsecrets.secret_open(i32, i32) -> i32"
	// OnResponse reports whether the module exports on_response.
	OnResponse bool `json:"on_response"`
	// Valid is true when the module may be loaded as a policy; otherwise
	// Problem says why.
	Valid   bool   `json:"valid"`
	Problem string `json:"problem,omitempty"`
}

// allowedImports maps module -> function -> signature of every function a
// policy may import: the host ABI and WASI preview 1.
var allowedImports = sync.OnceValue(func() map[string]map[string]string {
	out := map[string]map[string]string{hostfns.ModuleName: {}}
	for _, f := range hostfns.Functions() {
		params := make([]api.ValueType, len(f.Params))
		for i := range params {
			params[i] = api.ValueTypeI32
		}
		out[hostfns.ModuleName][f.Name] = signature(params, []api.ValueType{api.ValueTypeI32})
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		panic("policies: wasi definitions unavailable: " + err.Error())
	}
	out[wasiModule] = map[string]string{}
	for name, def := range r.Module(wasiModule).ExportedFunctionDefinitions() {
		out[wasiModule][name] = signature(def.ParamTypes(), def.ResultTypes())
	}
	return out
})

func signature(params, results []api.ValueType) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, p := range params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(api.ValueTypeName(p))
	}
	b.WriteByte(')')
	if len(results) > 0 {
		b.WriteString(" -> ")
		for i, r := range results {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(api.ValueTypeName(r))
		}
	}
	return b.String()
}

// validate checks a compiled module against the policy contract: exported
// memory, on_request() -> i32, optional on_response() -> i32, and imports
// only from the allowed set with exactly the expected signatures.
func validate(m wazero.CompiledModule, code []byte) error {
	if _, ok := m.ExportedMemories()["memory"]; !ok {
		return fmt.Errorf("policies: module does not export %q", "memory")
	}
	if len(m.ImportedMemories()) > 0 {
		return fmt.Errorf("policies: module imports a memory; it must define its own")
	}
	fns := m.ExportedFunctions()
	onReq, ok := fns["on_request"]
	if !ok {
		return fmt.Errorf("policies: module does not export %q", "on_request")
	}
	const want = "() -> i32"
	if got := signature(onReq.ParamTypes(), onReq.ResultTypes()); got != want {
		return fmt.Errorf("policies: export %q has signature %s, want %s", "on_request", got, want)
	}
	if onResp, ok := fns["on_response"]; ok {
		if got := signature(onResp.ParamTypes(), onResp.ResultTypes()); got != want {
			return fmt.Errorf("policies: export %q has signature %s, want %s", "on_response", got, want)
		}
	}
	allowed := allowedImports()
	for _, def := range m.ImportedFunctions() {
		mod, name, _ := def.Import()
		sig := signature(def.ParamTypes(), def.ResultTypes())
		fns, ok := allowed[mod]
		if !ok {
			return fmt.Errorf("policies: import %q from module %q is not allowed (only %q and %q)", name, mod, hostfns.ModuleName, wasiModule)
		}
		want, ok := fns[name]
		if !ok {
			return fmt.Errorf("policies: import %q from module %q does not exist", name, mod)
		}
		if sig != want {
			return fmt.Errorf("policies: import %s.%s has signature %s, want %s", mod, name, sig, want)
		}
	}
	return checkImportKinds(code)
}

// checkImportKinds refuses imported tables and globals, which a compiled
// module does not list: the allowed set holds functions only. code has
// compiled, so it is well formed; a short read is still an error.
func checkImportKinds(code []byte) error {
	errBad := fmt.Errorf("policies: cannot read the import section")
	if len(code) < 8 {
		return errBad
	}
	r := wasmReader{b: code[8:]}
	for len(r.b) > 0 {
		id := r.byte()
		sec := wasmReader{b: r.bytes()}
		if r.bad {
			return errBad
		}
		if id != 2 {
			continue
		}
		for n := sec.uint(); n > 0 && !sec.bad; n-- {
			mod, name := string(sec.bytes()), string(sec.bytes())
			switch kind := sec.byte(); kind {
			case 0:
				sec.uint()
			default:
				if sec.bad {
					return errBad
				}
				what := map[byte]string{1: "table", 2: "memory", 3: "global"}[kind]
				if what == "" {
					what = "value of an unknown kind"
				}
				return fmt.Errorf("policies: import %q from module %q is a %s; only functions may be imported", name, mod, what)
			}
		}
		if sec.bad {
			return errBad
		}
		return nil
	}
	return nil
}

// wasmReader reads the WebAssembly binary encoding; bad records a read
// past the end.
type wasmReader struct {
	b   []byte
	bad bool
}

func (r *wasmReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// uint reads an unsigned LEB128 u32.
func (r *wasmReader) uint() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.bad = true
	return 0
}

// bytes reads a length-prefixed byte vector.
func (r *wasmReader) bytes() []byte {
	n := r.uint()
	if r.bad || uint64(n) > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// Inspect describes a module: digest, exports, imports and whether it is a
// valid policy. The error is non-nil only when the bytes are not a
// WebAssembly module at all.
func Inspect(wasm []byte) (Info, error) {
	sum := sha256.Sum256(wasm)
	info := Info{SHA256: hex.EncodeToString(sum[:]), Size: len(wasm)}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	m, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return info, fmt.Errorf("policies: not a valid WebAssembly module: %v", err)
	}
	for name, def := range m.ExportedFunctions() {
		info.Exports = append(info.Exports, name+signature(def.ParamTypes(), def.ResultTypes()))
	}
	for name, mem := range m.ExportedMemories() {
		maxPages := "65536"
		if mx, ok := mem.Max(); ok {
			maxPages = fmt.Sprint(mx)
		}
		info.Exports = append(info.Exports, fmt.Sprintf("%s (memory, %d..%s pages)", name, mem.Min(), maxPages))
	}
	for _, def := range m.ImportedFunctions() {
		mod, name, _ := def.Import()
		info.Imports = append(info.Imports, mod+"."+name+signature(def.ParamTypes(), def.ResultTypes()))
	}
	sort.Strings(info.Exports)
	sort.Strings(info.Imports)
	_, info.OnResponse = m.ExportedFunctions()["on_response"]
	if err := validate(m, wasm); err != nil {
		info.Problem = strings.TrimPrefix(err.Error(), "policies: ")
	} else {
		info.Valid = true
	}
	return info, nil
}
