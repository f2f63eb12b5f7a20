#!/usr/bin/env bash
# `compatibility: "python-service"` gives MiniSom's maps: a map trained by `kohonen train
# --compatibility python-service` from given weights equals, to 1e-12, MiniSom trained from the
# same weights with the same schedule (the radius and rate of iteration t - 1, decaying as
# exp(-t / lambda), lambda = N / ln(max(x, y) / 2)), samples in the given order, one epoch per
# iteration. Installs numpy and minisom into the private virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/python-venv.sh
python_venv numpy minisom

cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$venv/bin/python" - "$work" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(7)
np.save(f"{sys.argv[1]}/data.npy", rng.random((25, 4)))
np.save(f"{sys.argv[1]}/initial.npy", rng.random((12, 9, 4)))
PY
target/release/kohonen train --data "$work/data.npy" --init "$work/initial.npy" \
    --grid 12x9 --iterations 40 --learning-rate 0.3 --compatibility python-service \
    --out "$work/ours.npy" >/dev/null

"$venv/bin/python" - "$work" <<'PY'
import math, sys
import numpy as np
from importlib.metadata import version
from minisom import MiniSom

work = sys.argv[1]
data = np.load(f"{work}/data.npy")
initial = np.load(f"{work}/initial.npy")
ours = np.load(f"{work}/ours.npy")
x, y, iterations, rate = 12, 9, 40, 0.3
s0 = max(x, y) / 2
lam = iterations / math.log(s0)
decay = lambda start, t, max_iter: start * math.exp(-t / lam)
som = MiniSom(x, y, 4, sigma=s0, learning_rate=rate, neighborhood_function="gaussian",
              decay_function=decay)
# MiniSom takes a callable for the learning rate's decay but only names for the radius's.
som._sigma_decay_function = decay
som._weights = initial.copy()
som.train(data, iterations, use_epochs=True)
gap = np.abs(som.get_weights() - ours).max()
assert gap <= 1e-12, f"python-service map differs from MiniSom's by {gap}"
print(f"minisom {version('minisom')}: python-service map equals MiniSom's (largest difference {gap:.1e})")
PY
