#!/usr/bin/env bash
# Starts the release server on a loopback port over a copy of the sample models, runs
# scripts/smoke.sh against it, then stops it with SIGTERM and checks that it exits cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
work=$(mktemp -d)
cp -r saved_models "$work/models"
port=$((20000 + RANDOM % 20000))
target/release/kohonen serve --host 127.0.0.1 --port "$port" \
    --models-dir "$work/models" --logs-dir "$work/logs" >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
bash scripts/smoke.sh "http://127.0.0.1:$port"
kill -TERM "$server"
wait "$server"
grep -q "shutting down" "$work/server.log"
ls "$work/logs"/kohonen.log.* >/dev/null
echo "server: 1 passed, 0 failed (stopped cleanly on SIGTERM, logs written)"
