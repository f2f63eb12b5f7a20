#!/usr/bin/env bash
# Starts the release server with small limits on a loopback port over a copy of the sample
# models, and runs Schemathesis against its /openapi.json: every operation, every check, a few
# hundred cases. Any failure or error of any kind fails the script. The exceptions that the
# API's nature forces (rules between values, which no JSON Schema can state) are in
# scripts/schemathesis.toml, each with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-venv.sh
python_venv schemathesis==4.32.5

cargo build --release --quiet
work=$(mktemp -d)
cp -r saved_models "$work/models"
port=$((20000 + RANDOM % 20000))
# Small limits keep every generated training tiny, and the served document states them.
target/release/kohonen serve --host 127.0.0.1 --port "$port" \
    --models-dir "$work/models" --logs-dir "$work/logs" \
    --max-nodes 400 --max-iterations 50 --max-weights 40000 --max-body-bytes 1048576 \
    >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
status=0
"$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run \
    "http://127.0.0.1:$port/openapi.json" \
    --checks all --max-examples 25 --seed 20261127 --workers 1 \
    --generation-database none --no-color --report junit --report-dir "$work/report" \
    >"$work/schemathesis.txt" 2>&1 || status=$?
tail -n 30 "$work/schemathesis.txt"
if [ "$status" -ne 0 ]; then
    cat "$work/schemathesis.txt"
    echo "server log (last lines):"
    tail -n 40 "$work/server.log"
    exit "$status"
fi
# Schemathesis exits 0 only without failures and errors; say the counts plainly. The report's
# name carries the time it was written.
report=$(find "$work/report" -name 'junit*.xml' | head -n 1)
"$venv/bin/python" - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
cases = sum(int(s.get("tests", 0)) for s in suites)
failures = sum(int(s.get("failures", 0)) for s in suites)
errors = sum(int(s.get("errors", 0)) for s in suites)
print(f"schemathesis: {cases} operations tested, {failures} failed, {errors} errors")
sys.exit(1 if failures or errors else 0)
PY
grep -E "generated" "$work/schemathesis.txt" | sed 's/^ */schemathesis cases: /'
