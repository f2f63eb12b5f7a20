#!/usr/bin/env bash
# A file written by `kohonen train` loads in numpy.load as (x, y, D) <f8, and so do the
# committed sample models; `kohonen train` with the options of SPEC §3b as flags reproduces
# every golden option case (weights and both errors to 1e-9). Installs numpy into a private
# virtualenv if it is missing.
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

"$venv/bin/python" - target/release/kohonen tests/fixtures/golden-options "$work" <<'PY'
import json, os, subprocess, sys
import numpy as np

kohonen, root, work = sys.argv[1:4]
cases = sorted(os.listdir(root))
assert len(cases) == 18, cases
for case in cases:
    folder = f"{root}/{case}"
    spec = json.load(open(f"{folder}/case.json"))
    rows, cols = spec["grid_shape"]
    args = [kohonen, "train", "--data", f"{folder}/data.npy", "--grid", f"{rows}x{cols}",
            "--iterations", str(spec["max_iterations"]), "--out", f"{work}/{case}.npy"]
    if spec.get("learning_rate") is not None:
        args += ["--learning-rate", repr(spec["learning_rate"])]
    for key, value in spec["options"].items():
        flag = "--" + key.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    args += ["--init", "pca" if spec["init"] == "pca" else f"{folder}/initial_weights.npy"]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, (case, done.stderr)
    summary = json.loads(done.stdout)
    gap = np.abs(np.load(f"{work}/{case}.npy") - np.load(f"{folder}/expected_weights.npy")).max()
    assert gap <= spec["tolerance"], (case, gap)
    for error in ["quantization_error", "topographic_error"]:
        assert abs(summary[error] - spec[f"expected_{error}"]) <= spec["tolerance"], (case, error)
print(f"golden options through kohonen train's flags: {len(cases)} passed, 0 failed")
PY
