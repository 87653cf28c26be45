#!/usr/bin/env bash
# proxy-bench.sh: load test of the agentsecrets proxy on loopback, side by
# side with the upstream alone and with nginx adding the same header.
#
# For each target it runs wrk at 1 and at 32 connections for DURATION
# (default 3s), ROUNDS times (default 3) in turn, so every round compares
# the targets under the same conditions (a shared machine's speed drifts
# between runs). It prints each run's requests per second, p50 latency and
# the CPU the target's processes used per request (user and kernel, from
# /proc; the upstream's for direct), then the medians and the per-round
# comparisons:
#
#   direct  wrk -> upstream
#   proxy   wrk -> agentsecrets proxy (bearer injection, redaction, audit) -> upstream
#   nginx   wrk -> nginx (proxy_set_header Authorization, keepalive pool) -> upstream
#   bare    wrk -> benchbare (the same HTTP library as the proxy, setting the
#           header and nothing else) -> upstream: the ceiling a Go proxy
#           reaches on this machine, against which the proxy's own cost shows
#
# Needs wrk (Debian package wrk); nginx is optional (nginx-light). The
# upstream is runner/proxy/internal/benchupstream. Everything runs in a
# temporary directory and is stopped on exit.
#
# Usage: scripts/proxy-bench.sh [DURATION]   (ROUNDS=N in the environment)
set -euo pipefail

DURATION=${1:-${DURATION:-3s}}
ROUNDS=${ROUNDS:-3}
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
	echo "proxy-bench: wrk not installed (apt-get install wrk); skipping"
	exit 0
fi

work=$(mktemp -d)
pids=()
cleanup() {
	if [[ -f "$work/home/proxy.pid" ]]; then
		AGENTSECRETS_HOME="$work/home" "$work/agentsecrets" proxy stop >/dev/null 2>&1 || true
	fi
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	if [[ -f "$work/nginx/nginx.pid" ]]; then kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

waitport() { # waitport PORT: until something listens (bounded)
	for _ in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "proxy-bench: nothing listens on port $1" >&2
	return 1
}

echo "building..."
go build -o "$work/agentsecrets" ./cmd/agentsecrets
go build -o "$work/benchupstream" ./runner/proxy/internal/benchupstream
go build -o "$work/benchseed" ./runner/proxy/internal/benchseed
go build -o "$work/benchbare" ./runner/proxy/internal/benchbare

up_port=$(freeport)
"$work/benchupstream" -addr "127.0.0.1:$up_port" &
pids+=($!)
waitport "$up_port"

export AGENTSECRETS_HOME="$work/home" AGENTSECRETS_BACKEND=file
AGENTSECRETS_PASSPHRASE="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
export AGENTSECRETS_PASSPHRASE
mkdir -p "$work/app"
(cd "$work/app" && "$work/benchseed" -dir "$work/app")
proxy_port=$(freeport)
(cd "$work/app" && "$work/agentsecrets" proxy start --port "$proxy_port" >/dev/null)
token=$(cat "$work/home/proxy.token")
bare_port=$(freeport)
"$work/benchbare" -addr "127.0.0.1:$bare_port" -upstream "127.0.0.1:$up_port" &
bare_pid=$!
pids+=("$bare_pid")
waitport "$bare_port"

nginx_port=""
if command -v nginx >/dev/null 2>&1; then
	nginx_port=$(freeport)
	mkdir -p "$work/nginx"
	cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	fastcgi_temp_path $work/nginx/fastcgi;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	upstream api { server 127.0.0.1:$up_port; keepalive 64; }
	server {
		listen 127.0.0.1:$nginx_port;
		location / {
			proxy_pass http://api;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Authorization "Bearer x";
		}
	}
}
CONF
	nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" 2>/dev/null
	waitport "$nginx_port"
fi

# The processes whose CPU each target's runs are charged to (the upstream's
# for direct).
declare -A pids_of=([direct]="${pids[0]}" [proxy]="$(cat "$work/home/proxy.pid")" [bare]="$bare_pid")
if [[ -n $nginx_port ]]; then
	pids_of[nginx]=$(pgrep -d ' ' -P "$(cat "$work/nginx/nginx.pid")")
fi
ticks=$(getconf CLK_TCK)

# cpu_ticks PID...: user and system clock ticks the processes used so far.
cpu_ticks() {
	local u=0 s=0 pid
	for pid in "$@"; do
		read -r pu ps < <(awk '{print $14, $15}' "/proc/$pid/stat")
		u=$((u + pu)) s=$((s + ps))
	done
	echo "$u $s"
}

# run ROUND NAME CONNS URL [wrk header args...]: adds "ROUND NAME CONNS
# req/s p50_us user_us kernel_us" to $work/runs (the CPU the target's
# processes used per request, in user space and in the kernel) and prints
# the run.
run() {
	local round=$1 name=$2 conns=$3 url=$4
	shift 4
	local threads=$((conns < 2 ? 1 : 2))
	local out u0 s0 u1 s1
	# shellcheck disable=SC2086 # a list of pids
	read -r u0 s0 < <(cpu_ticks ${pids_of[$name]})
	out=$(wrk -t"$threads" -c"$conns" -d"$DURATION" --latency "$@" "$url")
	# shellcheck disable=SC2086
	read -r u1 s1 < <(cpu_ticks ${pids_of[$name]})
	local rps p50 non2xx reqs user sys
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p50=$(awk '$1 == "50%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		if (u == "ms") v *= 1000; else if (u == "s") v *= 1000000; print v }' <<<"$out")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	reqs=$(awk '/ requests in / {print $1}' <<<"$out")
	user=$(awk -v d="$((u1 - u0))" -v t="$ticks" -v n="$reqs" 'BEGIN { printf "%.1f", d / t * 1e6 / n }')
	sys=$(awk -v d="$((s1 - s0))" -v t="$ticks" -v n="$reqs" 'BEGIN { printf "%.1f", d / t * 1e6 / n }')
	echo "$round $name $conns $rps $p50 $user $sys" >>"$work/runs"
	printf '%5s %-7s %5s %12s %10sus %7s %7s%s\n' "$round" "$name" "$conns" "$rps" "$p50" "$user" "$sys" "${non2xx:+  non-2xx: $non2xx}"
}

echo
echo "loopback, $(nproc) CPUs, $DURATION per run, $ROUNDS rounds"
printf '%5s %-7s %5s %12s %12s %7s %7s\n' round target conns "req/s" p50 "user" "kernel"
for round in $(seq 1 "$ROUNDS"); do
	for conns in 1 32; do
		run "$round" direct "$conns" "http://127.0.0.1:$up_port/v1/balance" -H "Authorization: Bearer x"
		run "$round" proxy "$conns" "http://127.0.0.1:$proxy_port/proxy" \
			-H "X-AS-Session-Token: $token" \
			-H "X-AS-Target-URL: http://127.0.0.1:$up_port/v1/balance" \
			-H "X-AS-Inject-Bearer: BENCH_KEY"
		if [[ -n $nginx_port ]]; then
			run "$round" nginx "$conns" "http://127.0.0.1:$nginx_port/v1/balance"
		fi
		run "$round" bare "$conns" "http://127.0.0.1:$bare_port/v1/balance"
	done
done

# Medians over the rounds, and per round: the p50 the proxy (and nginx)
# adds to the direct one at 1 connection, and the proxy's throughput over
# nginx's at 32.
echo
awk '
	{ rps[$2 " " $3, $1] = $4; p50[$2 " " $3, $1] = $5; usr[$2 " " $3, $1] = $6; sys[$2 " " $3, $1] = $7; rounds[$1] = 1 }
	function median(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		n = 0; for (r in rounds) n++
		split("direct proxy nginx bare", names, " ")
		printf "medians of %d rounds\n", n
		for (c = 1; c <= 2; c++) {
			conns = (c == 1) ? 1 : 32
			for (k = 1; k <= 4; k++) {
				name = names[k]
				if (!((name " " conns, 1) in rps)) continue
				for (r = 1; r <= n; r++) {
					x[r] = rps[name " " conns, r]; y[r] = p50[name " " conns, r]
					uu[r] = usr[name " " conns, r]; kk[r] = sys[name " " conns, r]
				}
				printf "  %-7s %2d conns  %10.0f req/s  p50 %6.0fus  CPU/request %5.1fus user + %5.1fus kernel\n",
					name, conns, median(x, n), median(y, n), median(uu, n), median(kk, n)
			}
		}
		for (r = 1; r <= n; r++) x[r] = p50["proxy 1", r] - p50["direct 1", r]
		printf "p50 the proxy adds at 1 connection: %.0fus (median of rounds)", median(x, n)
		if (("nginx 1", 1) in p50) {
			for (r = 1; r <= n; r++) y[r] = p50["nginx 1", r] - p50["direct 1", r]
			printf "; nginx adds %.0fus", median(y, n)
		}
		printf "\n"
		if (("nginx 32", 1) in rps) {
			for (r = 1; r <= n; r++) x[r] = rps["proxy 32", r] / rps["nginx 32", r]
			printf "proxy / nginx throughput at 32 connections: %.2f (median of rounds)\n", median(x, n)
			for (r = 1; r <= n; r++) y[r] = rps["bare 32", r] / rps["nginx 32", r]
			printf "bare Go proxy / nginx at 32 connections: %.2f (the ceiling here)\n", median(y, n)
		}
		for (r = 1; r <= n; r++) x[r] = rps["proxy 32", r] / rps["bare 32", r]
		printf "proxy / bare Go proxy at 32 connections: %.2f\n", median(x, n)
	}' "$work/runs"
[[ -n $nginx_port ]] || echo "(nginx not installed: no nginx rows)"
rows=$("$work/agentsecrets" proxy logs --source proxy --last 0 --json | grep -c '"id"' || true)
echo "audit rows written by the proxy: $rows"
