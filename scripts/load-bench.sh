#!/usr/bin/env bash
# Load benchmark of the HTTP service (not a test: it measures). Installs wrk from Debian's
# packages if missing, builds the release binary, and prints wrk's latency distributions for:
#   1. GET /list-of-models with 1,000 models in the folder
#   2. POST /predict of 100 vectors on the 100x100 sample map
#   3. GET /health idle, then while two long trainings run (1 and 4 connections)
# With --cluster, three replicas A, B, C on a throwaway PostgreSQL and Garage
# (scripts/cluster.py, scripts/cluster-deps.sh) instead of one server on a folder: the 1,000
# models are put through the API (PUT /models/NAME, spread over the replicas), wrk loads A for
# 1 and 2, and 3 becomes the time from POST /atrain on A until B reports the job running.
# Usage: scripts/load-bench.sh [--cluster] [OUTPUT_FILE]   (default: print only)
set -euo pipefail
cd "$(dirname "$0")/.."
cluster=false
if [ "${1:-}" = --cluster ]; then
    cluster=true
    shift
fi
out=${1:-/dev/null}

if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet

work=$(mktemp -d)
if $cluster; then
    trap 'python3 scripts/cluster.py down "$work" || true; rm -rf "$work"' EXIT
    mapfile -t urls < <(python3 scripts/cluster.py up "$work" A B C)
    [ ${#urls[@]} -eq 3 ] || { echo "the cluster did not start" >&2; exit 1; }
    url=${urls[0]}
    put=$(PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=scripts python3 - "${urls[@]}" <<'PY'
import concurrent.futures, sys, time
from cluster import request

urls = sys.argv[1:]
small = open("saved_models/10X10_100N.npy", "rb").read()
puts = [(f"model_{i:03}", small) for i in range(1, 1000)]
puts.append(("100X100_1000N", open("saved_models/100X100_1000N.npy", "rb").read()))
def put(i):
    name, body = puts[i]
    status, answer = request("PUT", f"{urls[i % len(urls)]}/models/{name}", body)
    if status not in (200, 201):
        raise SystemExit(f"PUT /models/{name} answered {status}: {answer[:300]!r}")
began = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    list(pool.map(put, range(len(puts))))
print(f"{len(puts)} models put in {time.monotonic() - began:.1f} s, 16 at a time over A, B, C")
PY
)
else
    port=$((20000 + RANDOM % 20000))
    url="http://127.0.0.1:$port"
    mkdir -p "$work/models"
    cp saved_models/100X100_1000N.npy saved_models/100X100_1000N.json "$work/models/"
    for i in $(seq -w 1 999); do cp saved_models/10X10_100N.npy "$work/models/model_$i.npy"; done
    target/release/kohonen serve --host 127.0.0.1 --port "$port" --models-dir "$work/models" \
        --logs-dir "$work/logs" >"$work/server.log" 2>&1 &
    server=$!
    trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
    until curl -sf "$url/health" >/dev/null; do sleep 0.1; done
fi

python3 - >"$work/predict.lua" <<'PY'
import json
vectors = [[(i * 7 % 11) / 10, (i * 5 % 13) / 12, (i * 3 % 7) / 6] for i in range(100)]
body = json.dumps({"model_name": "100X100_1000N", "test_data": vectors})
print('wrk.method = "POST"')
print("wrk.body = " + json.dumps(body))
PY

{
    echo "# scripts/load-bench.sh, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
    echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
    if $cluster; then
        echo "# cluster: replicas A, B, C (${urls[*]}) on one PostgreSQL and one Garage bucket; wrk loads A"
        echo "# $put"
    fi
    echo "# models listed: $(curl -s "$url/list-of-models" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
    echo
    echo "## 1. GET /list-of-models (1,000 models), 2 threads, 32 connections, 10 s"
    wrk -t2 -c32 -d10s --latency "$url/list-of-models"
    echo
    echo "## 2. POST /predict, 100 vectors on 100x100, 1 connection, 10 s"
    wrk -t1 -c1 -d10s --latency -s "$work/predict.lua" "$url/predict"
    echo
    if $cluster; then
        echo "## 3. POST /atrain on A until GET /jobs/NAME on B says running (polled every 10 ms), 20 jobs one at a time"
        PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=scripts python3 - "${urls[0]}" "${urls[1]}" <<'PY'
import json, statistics, sys, time
from cluster import request

a, b = sys.argv[1:]
# 100 x 100 nodes for 50 iterations runs long enough to be seen running; each is cancelled then.
job = {"training_data": [[(i * 7 % 11) / 10, (i * 5 % 13) / 12, (i * 3 % 7) / 6]
                         for i in range(20)], "grid_shape": [100, 100], "max_iterations": 50}
waits = []
for _ in range(20):
    began = time.monotonic()
    status, answer = request("POST", f"{a}/atrain", job)
    if status != 200:
        raise SystemExit(f"/atrain on A answered {status}: {answer[:300]!r}")
    name = json.loads(answer)["operation-location"]
    while True:
        state = json.loads(request("GET", f"{b}/jobs/{name}")[1])
        if state["status"] != "queued":
            break
        time.sleep(0.01)
    if state["status"] != "running":
        raise SystemExit(f"{name} was {state['status']} before B saw it running: {state}")
    waits.append(time.monotonic() - began)
    request("DELETE", f"{b}/jobs/{name}")
    while json.loads(request("GET", f"{b}/jobs/{name}")[1])["status"] == "running":
        time.sleep(0.05)
print(f"jobs: {len(waits)}, median {statistics.median(waits) * 1000:.0f} ms, "
      f"max {max(waits) * 1000:.0f} ms, min {min(waits) * 1000:.0f} ms")
PY
    else
        echo "## 3a. GET /health with nothing training (the baseline), 1 thread, 1 and 4 connections, 10 s"
        wrk -t1 -c1 -d10s --latency "$url/health"
        wrk -t1 -c4 -d10s --latency "$url/health"
        echo
        echo "## 3b. GET /health while two trainings of 1000x1000 for 3000 iterations run, same loads"
        job=$(python3 -c 'import json; print(json.dumps({"training_data": [[(i * 7 % 11) / 10, (i * 5 % 13) / 12, (i * 3 % 7) / 6] for i in range(20)], "grid_shape": [1000, 1000], "max_iterations": 3000}))')
        curl -s -X POST "$url/atrain" -d "$job"; echo
        curl -s -X POST "$url/atrain" -d "$job"; echo
        sleep 1
        curl -s "$url/health"; echo
        wrk -t1 -c1 -d10s --latency "$url/health"
        wrk -t1 -c4 -d10s --latency "$url/health"
        curl -s "$url/health"; echo
        echo "(both jobs must still be running here for the figures to count)"
    fi
} | tee "$out"
