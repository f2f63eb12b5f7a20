#!/usr/bin/env bash
# The web page end to end in headless Chromium (Debian's chromium driven by playwright-core):
# starts the release server over a copy of the sample models and runs tests/browser/ui.mjs.
# Screenshots of each state go to target/browser-screenshots/ (ignored by git).
# Installs chromium and Node.js from Debian's packages and playwright-core from npm.
set -euo pipefail
cd "$(dirname "$0")/.."

# Only what is missing: a machine may have Node.js (and its npm) from elsewhere, and Debian's
# npm would then conflict with it.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
if ! command -v node >/dev/null; then
    missing+=(nodejs npm)
elif ! command -v npm >/dev/null; then
    if dpkg -S "$(command -v node)" >/dev/null 2>&1; then
        missing+=(npm)
    else
        echo "node at $(command -v node) is not Debian's and has no npm: install npm with it" >&2
        exit 1
    fi
fi
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
npm ci --prefix tests/browser --no-audit --no-fund --silent

cargo build --release --quiet --locked
work=$(mktemp -d)
cp -r saved_models "$work/models"
port=$((20000 + RANDOM % 20000))
# The server's command, and the file holding its pid: ui.mjs stops it and starts it again
# (the unreachable-server step) and writes the new pid there; whatever runs at the end is
# stopped here.
server_command=(target/release/kohonen --host 127.0.0.1 --port "$port" --models-dir "$work/models"
    --logs-dir "$work/logs" --shutdown-grace-seconds 2)
"${server_command[@]}" >>"$work/server.log" 2>&1 &
echo $! >"$work/server.pid"
trap 'kill "$(cat "$work/server.pid")" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    target/release/kohonen health "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
done
SERVER_PID_FILE="$work/server.pid" SERVER_LOG="$work/server.log" \
    SERVER_COMMAND=$(node -e 'console.log(JSON.stringify(process.argv.slice(1)))' "${server_command[@]}") \
    timeout 600 node tests/browser/ui.mjs "http://127.0.0.1:$port/" target/browser-screenshots
