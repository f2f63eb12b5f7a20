#!/usr/bin/env bash
# A file written by `kohonen train` loads in numpy.load as (x, y, D) <f8, and so do the
# committed sample models. Installs numpy into a private virtualenv if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/python-venv.sh
python_venv numpy

cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[[0.1,0.2,0.3],[0.9,0.8,0.7],[0.5,0.5,0.0],[0.0,1.0,0.2]]' >"$work/data.json"
target/release/kohonen train --data "$work/data.json" --grid 6x4 --iterations 30 \
    --seed 5 --out "$work/map.npy" >"$work/report.json"

"$venv/bin/python" - "$work/map.npy" "$work/report.json" saved_models <<'PY'
import json, pathlib, sys
import numpy as np

weights = np.load(sys.argv[1], allow_pickle=False)
assert weights.shape == (6, 4, 3), weights.shape
assert weights.dtype == np.dtype("<f8"), weights.dtype
assert np.isfinite(weights).all()
report = json.load(open(sys.argv[2]))
assert report["seed"] == 5 and report["out"] == sys.argv[1], report
for path in sorted(pathlib.Path(sys.argv[3]).glob("*.npy")):
    m = np.load(path, allow_pickle=False)
    assert m.ndim == 3 and m.dtype == np.dtype("<f8"), (path, m.shape, m.dtype)
print("numpy: 1 passed, 0 failed")
PY
