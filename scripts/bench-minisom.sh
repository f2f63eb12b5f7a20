#!/usr/bin/env bash
# The MiniSom reference figure of the README's performance table: a 100x100 map trained on
# the 10 sample colours for 1000 iterations (each presents every colour once, as ours does:
# 10,000 presentations), best of 3. Installs minisom into the private virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-venv.sh
python_venv numpy minisom
"$venv/bin/python" - <<'PY'
import time
import numpy as np
from minisom import MiniSom

colours = np.array([  # SAMPLE_COLOURS of src/som/mod.rs
    [0.09803922, 0.78823529, 0.27058824], [0.17254902, 0.8745098, 0.18823529],
    [0.82352941, 0.6, 0.49411765], [0.83529412, 0.56078431, 0.65098039],
    [0.85098039, 0.74509804, 0.54509804], [0.06666667, 0.3254902, 0.63529412],
    [0.1254902, 0.56470588, 0.09411765], [0.82352941, 0.00392157, 0.61176471],
    [0.91764706, 0.85882353, 0.70980392], [0.38039216, 0.68627451, 0.70980392]])
times = []
for run in range(3):
    som = MiniSom(100, 100, 3, sigma=50.0, learning_rate=0.1, random_seed=run)
    start = time.perf_counter()
    som.train(colours, 10_000, use_epochs=False)
    times.append(time.perf_counter() - start)
from importlib.metadata import version
print(f"minisom {version('minisom')}: 100x100, 10 colours, 10,000 presentations: best {min(times):.2f} s of {[round(t, 2) for t in times]}")
PY
