# agentsecrets — build, test and demo targets.
#
#   make demo    the main job end to end on embedded defaults (needs only Go)
#   make test    every test (under a real Secret Service when gnome-keyring is installed), then every benchmark once
#   make bench   the benchmarks whose figures the README reports
#   make lint    gofmt and go vet
#   make cross   build for macOS and Windows and type-check every package and its tests there
#   make wasm    rebuild the built-in policies from their WebAssembly text (needs wat2wasm)

GO      ?= go
BIN     ?= bin/agentsecrets
PKGS    ?= ./...

.PHONY: build test test-short lint cross demo bench wasm fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/agentsecrets

test: lint
	scripts/with-keyring.sh $(GO) test -count=1 $(PKGS)
	@echo "every benchmark once:"; out=$$($(GO) test -count=1 -run '^$$' -bench . -benchtime 1x $(PKGS) 2>&1) || { echo "$$out"; exit 1; }; echo ok

test-short:
	$(GO) test -short -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

cross:
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/agentsecrets
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/agentsecrets
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...

demo:
	@scripts/demo.sh

bench:
	@scripts/bench.sh

wasm:
	wasm/build.sh

fuzz:
	@scripts/fuzz.sh 5s

clean:
	rm -rf bin .bench
