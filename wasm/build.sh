#!/bin/sh
# Rebuilds the committed WebAssembly binaries from their text sources:
# the built-in policies (wasm/builtin) and the hostile test guests
# (testdata/guests). Needs wat2wasm (Debian/Ubuntu package "wabt").
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
command -v wat2wasm >/dev/null 2>&1 || {
	echo "wasm/build.sh: wat2wasm not found; install wabt (apt-get install wabt)" >&2
	exit 1
}
for dir in "$root/wasm/builtin" "$root/testdata/guests"; do
	[ -d "$dir" ] || continue
	for src in "$dir"/*.wat; do
		[ -e "$src" ] || continue
		wat2wasm "$src" -o "${src%.wat}.wasm"
	done
done
