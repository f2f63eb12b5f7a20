#!/usr/bin/env bash
# Starts the release server on a loopback port over a copy of the sample models, runs
# scripts/smoke.sh against it, validates its /openapi.json with openapi-spec-validator,
# then stops it with SIGTERM and checks that it exits cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-venv.sh
python_venv openapi-spec-validator

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
"$venv/bin/python" - "http://127.0.0.1:$port" <<'PY'
import json, sys, urllib.request
from openapi_spec_validator import validate

url = sys.argv[1]
document = json.load(urllib.request.urlopen(f"{url}/openapi.json"))
validate(document)
operations = {(method, path) for path, item in document["paths"].items() for method in item}
expected = {
    ("post", "/train"), ("post", "/atrain"), ("get", "/list-of-models"),
    ("get", "/download/{name}"), ("get", "/predict"), ("post", "/predict"),
    ("get", "/jobs"), ("get", "/jobs/{name}"), ("delete", "/jobs/{name}"), ("get", "/models"),
    ("get", "/models/{name}"), ("put", "/models/{name}"), ("delete", "/models/{name}"),
    ("get", "/models/{name}/image.png"), ("get", "/models/{name}/umatrix.png"),
    ("get", "/models/{name}/curves.png"), ("post", "/models/{name}/hits.png"),
    ("get", "/models/{name}/hits.png"), ("get", "/models/{name}/labels.png"),
    ("get", "/models/{name}/components.png"), ("get", "/models/{name}/figure.png"),
    ("get", "/models/{name}/nodes"),
    ("post", "/models/{name}/predictions.png"), ("get", "/health"), ("get", "/metrics"),
    ("get", "/datasets"), ("get", "/datasets/{name}"), ("put", "/datasets/{name}"),
    ("delete", "/datasets/{name}"),
}
assert operations == expected, sorted(operations ^ expected)
page = urllib.request.urlopen(f"{url}/docs/").read().decode()
assert "swagger-ui" in page
print(f"openapi: {document['openapi']} document valid, {len(operations)} operations, /docs served")
PY
kill -TERM "$server"
wait "$server"
grep -q "shutting down" "$work/server.log"
ls "$work/logs"/kohonen.log.* >/dev/null
echo "server: 1 passed, 0 failed (stopped cleanly on SIGTERM, logs written)"
