#!/usr/bin/env bash
# The big-data benchmark (README, "Big data"; not in CI): 16,000 samples x 300 features in 3
# blobs, made once by scripts/peers/make_blobs.py with its defaults (float32, seed 42), then,
# in one run on this machine, the whole process of
#   kohonen batch:  --mode batch --neighbourhood gaussian-full --init pca --grid 25x15 --iterations 100
#   numpy batch:    scripts/peers/numpy_batch.py with the same grid, neighbourhood and iterations
#   kohonen online: --mode online --init pca --grid 25x15 --iterations 10, the other options default
# each timed by /usr/bin/time (elapsed, max RSS), with the errors each prints. Raw output on
# stdout, to be saved under benches/results/. Installs numpy into a private virtualenv if it is
# missing. RUNS=N repeats every command N times (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/python-venv.sh
python_venv numpy
py="$venv/bin/python"
runs=${RUNS:-1}

cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data="$work/blobs.npy"
"$py" scripts/peers/make_blobs.py "$data"

echo "== machine"
echo "date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:       $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "nproc:     $(nproc)"
echo "memory:    $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
echo "kernel:    $(uname -sr)"
echo "rustc:     $(rustc --version)"
echo "commit:    $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' (modified)')"
"$py" - <<'PY'
import platform, sys
import numpy as np
print(f"python:    {platform.python_version()}")
print(f"numpy:     {np.__version__}")
config = np.show_config(mode="dicts")
for lib in ("blas", "lapack"):
    dep = config.get("Build Dependencies", {}).get(lib, {})
    print(f"{lib + ':':<10} {dep.get('name', '?')} {dep.get('version', '')} "
          f"({dep.get('openblas configuration', dep.get('detection method', ''))})")
PY
x=$("$py" -c "import numpy as np; a = np.load('$data', mmap_mode='r'); print(a.shape[0], a.shape[1], a.dtype, a.nbytes)")
echo "workload:  $x (samples, features, dtype, bytes): scripts/peers/make_blobs.py defaults"

# time_it NAME COMMAND...: runs COMMAND, prints its last stdout line (the summary JSON) and
# appends "NAME elapsed_s max_rss_kb json" to $work/rows.
time_it() {
    local name=$1
    shift
    echo "== $name: $*"
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out"
    else
        # No GNU time: the child's wall time and peak RSS (ru_maxrss, KiB) measured by Python.
        "$py" - "$work/time" "$@" >"$work/out" <<'PY'
import resource, subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(sys.argv[2:], check=True)
elapsed = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(f"{elapsed:.2f} {rss}\n")
PY
    fi
    local json
    json=$(tail -n 1 "$work/out")
    echo "$json"
    read -r elapsed rss <"$work/time"
    echo "elapsed ${elapsed} s, max RSS ${rss} KiB"
    echo "$name $elapsed $rss $json" >>"$work/rows"
}

kohonen=target/release/kohonen
for run in $(seq "$runs"); do
    time_it "kohonen-batch" $kohonen train --data "$data" --mode batch \
        --neighbourhood gaussian-full --init pca --grid 25x15 --iterations 100 \
        --seed 1 --out "$work/batch.npy" --force
    time_it "numpy-batch" "$py" scripts/peers/numpy_batch.py "$data" --grid 25x15 \
        --iterations 100 --neighbourhood gaussian-full
    time_it "kohonen-online" $kohonen train --data "$data" --mode online --init pca \
        --grid 25x15 --iterations 10 --seed 1 --out "$work/online.npy" --force
done

echo "== summary (whole process; training: the seconds the program reports for its training)"
"$py" - "$work/rows" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, elapsed, rss, summary = line.split(" ", 3)
    s = json.loads(summary)
    rows.setdefault(name, []).append((float(elapsed), int(rss) / 1024,
        s.get("training_seconds", s.get("seconds")), s["quantization_error"], s["topographic_error"]))
print(f"{'run':<15} {'wall s':>7} {'RSS MiB':>8} {'training s':>10} {'QE':>9} {'TE':>7}")
median = {}
for name, got in rows.items():
    got.sort()
    wall, rss, train, qe, te = got[len(got) // 2]
    median[name] = wall
    print(f"{name:<15} {wall:>7.2f} {rss:>8.0f} {train:>10.2f} {qe:>9.4f} {te:>7.4f}")
if "kohonen-batch" in median and "numpy-batch" in median:
    print(f"batch speed-up vs numpy (wall): {median['numpy-batch'] / median['kohonen-batch']:.2f}x")
PY
