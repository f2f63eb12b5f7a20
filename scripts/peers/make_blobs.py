#!/usr/bin/env python3
# Copied unchanged (but for this line) from ../shared/bench/make_blobs.py, the big-data issue's peers.
"""The big-data workload: n samples of D features in 3 Gaussian blobs (unit spread, centres
uniform in [-10, 10]^D), like the TorchSOM benchmark's make_blobs data. numpy only.

    python3 make_blobs.py OUT.npy [--n 16000] [--dim 300] [--seed 42] [--dtype float32]
"""
import argparse

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--n", type=int, default=16000)
p.add_argument("--dim", type=int, default=300)
p.add_argument("--seed", type=int, default=42)
p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
a = p.parse_args()
rng = np.random.default_rng(a.seed)
centres = rng.uniform(-10.0, 10.0, (3, a.dim))
labels = rng.integers(0, 3, a.n)
x = centres[labels] + rng.standard_normal((a.n, a.dim))
np.save(a.out, x.astype(a.dtype))
