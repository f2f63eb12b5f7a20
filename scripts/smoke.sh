#!/usr/bin/env bash
# Runs the Python client's flow against a running server, as a user checks a deployment:
#   scripts/smoke.sh [URL]        (default http://localhost:8000)
# Uses only python3's standard library. Exits non-zero on the first failure.
set -euo pipefail
url=${1:-http://localhost:8000}

python3 - "$url" <<'PY'
import json, sys, time, urllib.error, urllib.request

base = sys.argv[1].rstrip("/")

def call(method, path, payload=None):
    # As the original client: a JSON text body and no Content-Type header.
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.remove_header("Content-type")
        request.add_unredirected_header("Content-Type", "")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()

colours = [[0.098, 0.788, 0.271], [0.173, 0.875, 0.188], [0.824, 0.6, 0.494],
           [0.835, 0.561, 0.651], [0.851, 0.745, 0.545], [0.067, 0.325, 0.635],
           [0.125, 0.565, 0.094], [0.824, 0.004, 0.612], [0.918, 0.859, 0.71],
           [0.38, 0.686, 0.71]]
payload = {"training_data": colours, "training_data_shape": [10, 3],
           "grid_shape": [10, 10], "max_iterations": 100, "learning_rate": 0.1}

status, body = call("GET", "/health/")
assert status == 200 and json.loads(body)["status"] == "ok", (status, body)
status, body = call("POST", "/train/", payload)
assert status == 200, (status, body)
name = json.loads(body)["operation-location"]
status, body = call("POST", "/atrain/", payload)
assert status == 200, (status, body)
background = json.loads(body)["operation-location"]
for _ in range(600):
    status, weights = call("GET", f"/download/{background}/")
    if status == 200:
        break
    assert status == 404, (status, weights)
    time.sleep(0.1)
assert status == 200 and weights.startswith(b"\x93NUMPY"), status
status, body = call("GET", "/list-of-models/")
names = json.loads(body)
assert name in names and background in names, names
status, body = call("GET", "/predict/", {"model_name": name, "test_data": colours,
                                         "test_data_shape": [10, 3]})
assert status == 200, (status, body)
predictions = json.loads(body)["predictions"]
assert len(predictions) == 10 and all(0 <= r < 10 and 0 <= c < 10 for r, c in predictions)
status, body = call("POST", "/train/", {**payload, "grid_shape": [0, 0]})
assert status == 422 and json.loads(body)["code"] == "invalid_grid_shape", (status, body)
print(f"smoke: 1 passed, 0 failed ({base}: trained {name} and {background})")
PY
