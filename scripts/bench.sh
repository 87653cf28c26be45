#!/usr/bin/env bash
# make bench: the Go benchmarks of the pipeline's parts, then a cold
# `agentsecrets call` as a whole process against a loopback server, timed
# beside `curl -s` to the same URL, per vault backend, with a breakdown:
# process start, vault access, policy part (from the Go benchmarks) and the
# request. Results go to .bench/; a summary table is printed at the end.
#
# Needs Go. Uses hyperfine when installed (else a bash loop), curl when
# installed (else its column is skipped), and the keychain backend when
# scripts/with-keyring.sh can start a private Secret Service.
#
#   BENCH_RUNS=50      runs per command in the whole-process comparison
#   BENCHTIME=1s       -benchtime of the Go benchmarks
#   BENCH_SKIP_GO=1    skip the Go benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/.bench
RUNS=${BENCH_RUNS:-50}
BENCHTIME=${BENCHTIME:-1s}
AS=$OUT/agentsecrets
SERVER=$OUT/benchserver

# time_commands NAME=CMD... writes CSV lines "name,mean_ms,median_ms,stddev_ms"
# to stdout, timing each command RUNS times after a warm-up run.
time_commands() {
	local csv=$OUT/.times.csv
	if command -v hyperfine >/dev/null 2>&1 && hyperfine -N --runs 1 true >/dev/null 2>&1; then
		local args=()
		for nc in "$@"; do
			args+=(-n "${nc%%=*}" "${nc#*=}")
		done
		hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-csv "$csv" "${args[@]}" >/dev/null
		# command,mean,stddev,median,user,system,min,max (seconds)
		awk -F, 'NR>1 { printf "%s,%.3f,%.3f,%.3f\n", $1, $2*1000, $4*1000, $3*1000 }' "$csv"
	else
		for nc in "$@"; do
			local name=${nc%%=*} cmd=${nc#*=}
			$cmd >/dev/null 2>&1 || true
			for ((i = 0; i < RUNS; i++)); do
				local t0 t1
				t0=$(date +%s%N)
				$cmd >/dev/null 2>&1 || true
				t1=$(date +%s%N)
				echo $(((t1 - t0) / 1000))
			done | sort -n | awk -v name="$name" '
				{ v[NR] = $1 / 1000; s += v[NR]; ss += v[NR] * v[NR] }
				END {
					m = s / NR; sd = sqrt(ss / NR - m * m)
					med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
					printf "%s,%.3f,%.3f,%.3f\n", name, m, med, sd
				}'
		done
	fi
}

# cold BACKEND URL: set up a home on BACKEND and time the whole process.
cold() {
	local backend=$1 url=$2
	local home=$OUT/home-$backend proj=$OUT/proj-$backend
	rm -rf "$home" "$proj"
	mkdir -p "$proj"
	export AGENTSECRETS_HOME=$home AGENTSECRETS_BACKEND=$backend NO_COLOR=1
	if [ "$backend" = file ]; then
		export AGENTSECRETS_PASSPHRASE=bench-passphrase-not-a-secret
	else
		unset AGENTSECRETS_PASSPHRASE
	fi
	cd "$proj"
	"$AS" init >/dev/null
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' | "$AS" secrets set BENCH_KEY >/dev/null
	"$SERVER" allowlist "$proj" 127.0.0.1
	# The first call fills the compile cache and proves the setup works.
	if ! "$AS" call --url "$url/v1/balance" --bearer BENCH_KEY 2>/dev/null | grep -q '"authorized":true'; then
		echo "bench: a call on the $backend backend did not reach the server authorized" >&2
		return 1
	fi
	local cmds=()
	if command -v curl >/dev/null 2>&1; then
		cmds+=("curl=curl -s $url/v1/balance")
	fi
	cmds+=("call=$AS call --url $url/v1/balance --bearer BENCH_KEY"
		"version=$AS --version"
		"list=$AS secrets list"
		"get=$AS secrets get BENCH_KEY --reveal-to-pipe")
	time_commands "${cmds[@]}" >"$OUT/cold-$backend.csv"
	cd "$ROOT"
}

if [ "${1:-}" = "--cold" ]; then
	cold "$2" "$3"
	exit
fi

mkdir -p "$OUT"
rm -f "$OUT"/cold-*.csv

if [ "${BENCH_SKIP_GO:-}" != 1 ]; then
	echo "== Go benchmarks (-benchtime=$BENCHTIME)"
	pkgs=()
	for p in ./runner/redact ./policies ./hostfns ./runner/audit ./runner ./runner/proxy; do
		[ -d "$p" ] && pkgs+=("$p")
	done
	go test -run '^$' -bench . -benchmem -benchtime="$BENCHTIME" "${pkgs[@]}" | tee "$OUT/go-bench.txt"
	# The proxy's own work per request on one thread: the audit writer
	# shares it, so ns/op is everything a request costs the process.
	go test -run '^$' -bench '^BenchmarkHandler$' -benchmem -cpu 1 -benchtime="$BENCHTIME" ./runner/proxy |
		sed 's/^BenchmarkHandler\([[:space:]]\)/BenchmarkHandlerOneThread\1/' | tee -a "$OUT/go-bench.txt"
fi

echo "== whole process: agentsecrets call vs curl ($RUNS runs each)"
go build -o "$AS" ./cmd/agentsecrets
go build -o "$SERVER" ./testdata/benchserver
rm -f "$OUT/server.url" # a stale one would be read before the server truncates it
"$SERVER" serve -for 30m >"$OUT/server.url" 2>"$OUT/server.log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for ((i = 0; i < 600; i++)); do # up to 30 s on a loaded machine
	[ -s "$OUT/server.url" ] && break
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.05
done
URL=$(head -n 1 "$OUT/server.url")
if [ -z "$URL" ]; then
	kill "$server_pid" 2>/dev/null || true
	echo "bench: the loopback server did not print its address:" >&2
	cat "$OUT/server.log" >&2
	exit 1
fi

"$0" --cold file "$URL"
if command -v gnome-keyring-daemon >/dev/null 2>&1 && command -v dbus-run-session >/dev/null 2>&1; then
	scripts/with-keyring.sh "$0" --cold keychain "$URL" ||
		echo "bench: keychain backend unavailable, skipped" >&2
else
	echo "bench: gnome-keyring or dbus-run-session not installed: keychain backend skipped" >&2
fi

# ns/op of a Go benchmark in go-bench.txt, in ms ("" when absent).
go_ms() {
	[ -f "$OUT/go-bench.txt" ] || return 0
	awk -v name="$1" '$1 ~ "^"name"(-[0-9]+)?$" { printf "%.3f", $3 / 1e6; exit }' "$OUT/go-bench.txt"
}

{
	echo
	echo "## Whole process, cold (ms; compile cache warm)"
	echo
	echo "| backend | step | mean | median | ± | × curl |"
	echo "|---|---|---|---|---|---|"
	for f in "$OUT"/cold-*.csv; do
		[ -f "$f" ] || continue
		b=$(basename "$f" .csv)
		b=${b#cold-}
		curl_ms=$(awk -F, '$1 == "curl" { print $2 }' "$f")
		awk -F, -v b="$b" -v c="${curl_ms:-0}" '
			BEGIN {
				label["curl"] = "curl -s (reference)"
				label["call"] = "agentsecrets call --bearer"
				label["version"] = "process start (--version)"
				label["list"] = "vault index (secrets list)"
				label["get"] = "vault value (secrets get)"
			}
			{ x = (c > 0) ? sprintf("%.2f", $2 / c) : "-"
			  printf "| %s | %s | %.2f | %.2f | %.2f | %s |\n", b, label[$1], $2, $3, $4, x }' "$f"
	done
	echo
	echo "## Breakdown from the Go benchmarks (ms per op)"
	echo
	echo "| part | ms |"
	echo "|---|---|"
	echo "| policy part of one call: engine + compile + instantiate + run (BenchmarkPolicyColdStart) | $(go_ms BenchmarkPolicyColdStart) |"
	echo "| compile a built-in (BenchmarkCompileBuiltin) | $(go_ms BenchmarkCompileBuiltin) |"
	echo "| instantiate a built-in (BenchmarkInstantiateBuiltin) | $(go_ms BenchmarkInstantiateBuiltin) |"
	echo "| request through Runner.Do, loopback (BenchmarkDoBearer) | $(go_ms BenchmarkDoBearer) |"
	echo "| same request, plain net/http (BenchmarkPlainHTTPBearer) | $(go_ms BenchmarkPlainHTTPBearer) |"
	echo "| audit: open, record, close (BenchmarkOpenRecordClose) | $(go_ms BenchmarkOpenRecordClose) |"
	echo "| audit: one row appended in a batch (BenchmarkAppendSegment) | $(go_ms BenchmarkAppendSegment) |"
	echo "| a proxied request's work in the proxy, one thread, in-memory upstream, audit row included (BenchmarkHandler -cpu 1) | $(go_ms BenchmarkHandlerOneThread) |"
	echo
	echo "Targets: policy part under 2 ms; agentsecrets call within 3x curl on the keychain backend."
} | tee "$OUT/summary.md"

echo
echo "== OpenClaw exec: 100 ids as a whole process (file backend, then keychain)"
go test -run '^$' -bench 'BenchmarkExecProcess100' -benchtime 20x ./cmd/cli | tee "$OUT/exec-file.txt"
scripts/with-keyring.sh go test -run '^$' -bench 'BenchmarkExecProcess100' -benchtime 20x ./cmd/cli | tee "$OUT/exec-keychain.txt"

echo
echo "== proxy under load: direct vs agentsecrets proxy vs nginx vs a bare Go proxy (wrk)"
scripts/proxy-bench.sh "${PROXY_BENCH_TIME:-3s}" | tee "$OUT/proxy.txt"
