#!/usr/bin/env bash
# proxy-bench.sh: load test of the agentsecrets proxy on loopback, side by
# side with the upstream alone and with nginx adding the same header.
#
# For each target it runs wrk at 1 and at 32 connections for DURATION
# (default 5s) and prints requests per second and p50 latency:
#
#   direct  wrk -> upstream
#   proxy   wrk -> agentsecrets proxy (bearer injection, redaction, audit) -> upstream
#   nginx   wrk -> nginx (proxy_set_header Authorization, keepalive pool) -> upstream
#
# Needs wrk (Debian package wrk); nginx is optional (nginx-light). The
# upstream is runner/proxy/internal/benchupstream. Everything runs in a
# temporary directory and is stopped on exit.
#
# Usage: scripts/proxy-bench.sh [DURATION]
set -euo pipefail

DURATION=${1:-${DURATION:-5s}}
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

# run NAME CONNS URL [wrk header args...]: prints "NAME CONNS req/s p50"
results=()
run() {
	local name=$1 conns=$2 url=$3
	shift 3
	local threads=$((conns < 2 ? 1 : 2))
	local out
	out=$(wrk -t"$threads" -c"$conns" -d"$DURATION" --latency "$@" "$url")
	local rps p50 non2xx
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	results+=("$(printf '%-7s %5s %12s %10s %s' "$name" "$conns" "$rps" "$p50" "${non2xx:+ non-2xx: $non2xx}")")
}

for conns in 1 32; do
	run direct "$conns" "http://127.0.0.1:$up_port/v1/balance" -H "Authorization: Bearer x"
	run proxy "$conns" "http://127.0.0.1:$proxy_port/proxy" \
		-H "X-AS-Session-Token: $token" \
		-H "X-AS-Target-URL: http://127.0.0.1:$up_port/v1/balance" \
		-H "X-AS-Inject-Bearer: BENCH_KEY"
	if [[ -n $nginx_port ]]; then
		run nginx "$conns" "http://127.0.0.1:$nginx_port/v1/balance"
	fi
done

echo
echo "loopback, $(nproc) CPUs, $DURATION per run"
printf '%-7s %5s %12s %10s\n' target conns "req/s" p50
printf '%s\n' "${results[@]}"
[[ -n $nginx_port ]] || echo "(nginx not installed: no nginx rows)"
rows=$("$work/agentsecrets" proxy logs --source proxy --last 0 --json | grep -c '"id"' || true)
echo "audit rows written by the proxy: $rows"
