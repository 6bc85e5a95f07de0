"""What a 1,000-level categorical column costs in a Newton pass's chunk kernel, against
numeric data of the same width (same number of columns), side by side in this script.

    python benchmarks/categorical_kernel.py [--rows 1000000] [--numeric 64] [--levels 1000]

One chunk of ``--rows`` rows in memory (sorted by the level code, as chunks with a
categorical column are to be decoded), two layouts of the same ``numeric + 1`` columns:
- numeric: every column a float feature, the (d+1)² Gram as a dense fit computes it;
- categorical: ``numeric`` float features and one column of level codes, the design
  kernels of ``dasklr.kernels.design`` (gather, bincount, the block Gram).
Each side times the kernel work of one Newton pass (margins, Aᵀ·r, the weighted Gram);
prints medians over ``--repeat`` runs and their ratio. This is the kernel's share of the
issue's target (a pass ≤ 2× the numeric pass of the same width); the pass over Parquet
comes with the reading of categorical columns.
"""

import argparse
import statistics
import time

import numpy as np

from dasklr.kernels.design import Layout, design_gram, design_margins, design_transpose
from dasklr.kernels.logistic import gram


def numeric_pass(X: np.ndarray, coef: np.ndarray, s: np.ndarray) -> None:
    z = X @ coef
    X.T @ (s - z * 1e-3)
    gram(X, s)


def categorical_pass(X: np.ndarray, coef: np.ndarray, s: np.ndarray, layout: Layout) -> None:
    z = design_margins(X, coef, layout)
    design_transpose(X, s - z * 1e-3, layout)
    design_gram(X, s, layout)


def timed(run, repeat: int) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--numeric", type=int, default=64)
    parser.add_argument("--levels", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n, d = args.rows, args.numeric
    numeric = rng.normal(size=(n, d + 1))
    # sorted by code, as a chunk is decoded (one run of rows per level)
    codes = np.sort(rng.integers(-1, args.levels - 1, size=n)).astype(np.float64)
    coded = np.column_stack([numeric[:, :d], codes])
    layout = Layout(d, (args.levels - 1,))  # one level is the reference
    s = rng.uniform(0.05, 0.25, size=n)
    plain = timed(lambda: numeric_pass(numeric, rng.normal(size=d + 1), s), args.repeat)
    with_levels = timed(
        lambda: categorical_pass(coded, rng.normal(size=layout.width), s, layout), args.repeat
    )
    print(f"{n} rows, {d} numeric + 1 categorical of {args.levels} levels")
    print(f"numeric ({d + 1} columns) kernel: median {plain:.3f} s")
    print(f"categorical kernel:            median {with_levels:.3f} s")
    print(f"ratio: {with_levels / plain:.2f}x (target <= 2x)")
