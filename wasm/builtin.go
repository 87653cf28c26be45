package wasm

import (
	"embed"
	"sort"
	"strings"
)

//go:embed builtin/*.wasm
var builtinFS embed.FS

var builtinNames = func() []string {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		panic("wasm: embedded built-ins unreadable: " + err.Error())
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".wasm"))
	}
	sort.Strings(names)
	return names
}()

// Builtin returns the compiled built-in policy called name.
func Builtin(name string) ([]byte, bool) {
	if !IsBuiltin(name) {
		return nil, false
	}
	b, err := builtinFS.ReadFile("builtin/" + name + ".wasm")
	return b, err == nil
}

// IsBuiltin reports whether name is a built-in policy.
func IsBuiltin(name string) bool {
	i := sort.SearchStrings(builtinNames, name)
	return i < len(builtinNames) && builtinNames[i] == name
}

// BuiltinNames returns the names of the built-in policies, sorted.
func BuiltinNames() []string {
	return append([]string(nil), builtinNames...)
}
