#!/usr/bin/env python3
# Copied unchanged (but for this line) from ../shared/bench/numpy_batch.py, the big-data issue's peers.
"""A strong numpy peer for batch training (SPEC §3b, mode "batch"): BMUs by one matrix product
per iteration (BLAS), PCA init, any non-negative neighbourhood, rectangular grid. It prints one
JSON line: seconds of training, quantization and topographic error.

    python3 numpy_batch.py DATA.npy --grid 25x15 --iterations 100 [--neighbourhood gaussian-full]
"""
import argparse
import json
import math
import time

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("data")
p.add_argument("--grid", default="25x15")
p.add_argument("--iterations", type=int, default=100)
p.add_argument("--neighbourhood", default="gaussian-full")
a = p.parse_args()
x = np.load(a.data).astype(np.float64)
gx, gy = map(int, a.grid.split("x"))
n, dim = x.shape
k = gx * gy

# PCA init (SPEC §3b)
m = x.mean(axis=0)
vals, vecs = np.linalg.eigh((x - m).T @ (x - m) / n)
order = np.argsort(-vals, kind="stable")
comps = []
for i in order[:2]:
    e = vecs[:, i] * (1 if vecs[np.argmax(np.abs(vecs[:, i])), i] > 0 else -1)
    comps.append(math.sqrt(max(vals[i], 0.0)) * e)
u = lambda j, ln: 2.0 * j / (ln - 1) - 1.0 if ln > 1 else 0.0
w = np.empty((k, dim))
for r in range(gx):
    for c in range(gy):
        a1, a2 = (u(r, gx), u(c, gy)) if gx >= gy else (u(c, gy), u(r, gx))
        w[r * gy + c] = m + a1 * comps[0] + (a2 * comps[1] if len(comps) > 1 else 0.0)

rr, cc = np.divmod(np.arange(k), gy)
g2 = (rr[:, None] - rr[None, :]) ** 2 + (cc[:, None] - cc[None, :]) ** 2
s0 = max(gx, gy) / 2.0
lam = a.iterations / math.log(s0) if s0 > 1 else a.iterations


def h(d2, s):
    if a.neighbourhood == "gaussian":
        return np.where(d2 <= s * s + 1e-9, np.exp(-d2 / (2 * s * s)), 0.0)
    if a.neighbourhood == "gaussian-full":
        return np.exp(-d2 / (2 * s * s))
    if a.neighbourhood == "bubble":
        return np.where(d2 <= s * s + 1e-9, 1.0, 0.0)
    raise SystemExit("neighbourhood not in this peer")


x2 = (x * x).sum(axis=1)
t0 = time.perf_counter()
for t in range(1, a.iterations + 1):
    b = (x2[:, None] - 2.0 * x @ w.T + (w * w).sum(axis=1)[None, :]).argmin(axis=1)
    # per-node sums of the samples it won, then a K x K smoothing (not an n x K one)
    counts = np.bincount(b, minlength=k).astype(np.float64)
    sums = np.zeros((k, dim))
    order = np.argsort(b, kind="stable")
    won = np.flatnonzero(counts)
    sums[won] = np.add.reduceat(x[order], np.concatenate(([0], np.cumsum(counts[won])[:-1])).astype(int))
    hk = h(g2, s0 * math.exp(-t / lam))
    den = hk @ counts
    ok = den > 0
    w[ok] = (hk @ sums)[ok] / den[ok, None]
seconds = time.perf_counter() - t0
d = x2[:, None] - 2.0 * x @ w.T + (w * w).sum(axis=1)[None, :]
two = np.argsort(d, axis=1)[:, :2]
qe = float(np.sqrt(np.maximum(d[np.arange(n), two[:, 0]], 0.0)).mean())
te = float((np.maximum(np.abs(rr[two[:, 0]] - rr[two[:, 1]]), np.abs(cc[two[:, 0]] - cc[two[:, 1]])) > 1).mean())
print(json.dumps({"seconds": seconds, "quantization_error": qe, "topographic_error": te}))
