#!/usr/bin/env bash
# Load benchmark of the HTTP service (not a test: it measures). Installs wrk from Debian's
# packages if missing, builds the release binary, and prints wrk's latency distributions for:
#   1. GET /list-of-models with 1,000 models in the folder
#   2. POST /predict of 100 vectors on the 100x100 sample map
#   3. GET /health idle, then while two long trainings run (1 and 4 connections)
# Usage: scripts/load-bench.sh [OUTPUT_FILE]   (default: print only)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/dev/null}

if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet

work=$(mktemp -d)
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
    echo "# models listed: $(curl -s "$url/list-of-models" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
    echo
    echo "## 1. GET /list-of-models (1,000 models), 2 threads, 32 connections, 10 s"
    wrk -t2 -c32 -d10s --latency "$url/list-of-models"
    echo
    echo "## 2. POST /predict, 100 vectors on 100x100, 1 connection, 10 s"
    wrk -t1 -c1 -d10s --latency -s "$work/predict.lua" "$url/predict"
    echo
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
} | tee "$out"
