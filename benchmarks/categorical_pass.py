"""What a 1,000-level categorical column costs a pass and a fit, against numeric data of
the same width, side by side in this script on the same files and the same cluster.

    python benchmarks/categorical_pass.py [--rows 16000000] [--numeric 64] [--levels 1000]

One dataset (``--files`` Parquet files) holds ``numeric + 1`` float64 columns and a
string column of ``--levels`` levels (dictionary-encoded, as Parquet writers store such
columns). Two reads of it:
- numeric: the ``numeric + 1`` float columns as features (65 by default);
- categorical: the first ``numeric`` float columns and the string column as
  ``categorical=[...]`` (64 numeric + 999 coded levels, one the reference).
For each, with ``cache="none"`` (every pass decodes Parquet): the median of ``--repeat``
loss-and-gradient passes, interleaved, and one Newton fit (passes, seconds, the median
of its passes, which add the sampled Hessian). Prints both and their ratios (the target:
a categorical pass at most 2× the numeric one).
"""

import argparse
import logging
import os
import statistics
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from distributed import Client, LocalCluster

import dasklr
from dasklr.estimators.inputs import data_layout
from dasklr.kernels.logistic import logistic_sums
from dasklr.passes.runner import PassOptions, passes_over


def write_dataset(folder: str, rows: int, numeric: int, levels: int, files: int) -> None:
    """``files`` files of float columns x0… and a string column 'region'; the label
    follows a logistic model with an effect per level."""
    rng = np.random.default_rng(0)
    names = np.array([f"L{k:04d}" for k in range(levels)])
    effects = rng.normal(0, 0.5, size=levels)
    weights = rng.normal(0, 1 / np.sqrt(numeric + 1), size=numeric + 1)
    for f, count in enumerate(np.diff(np.linspace(0, rows, files + 1).astype(int))):
        X = rng.normal(size=(count, numeric + 1))
        code = rng.integers(0, levels, size=count)
        y = rng.random(count) < 1 / (1 + np.exp(-(X @ weights + effects[code])))
        columns = {f"x{j}": X[:, j] for j in range(numeric + 1)}
        region = pa.DictionaryArray.from_arrays(pa.array(code, pa.int32()), pa.array(names))
        table = pa.table({**columns, "region": region, "y": y})
        pq.write_table(table, os.path.join(folder, f"part-{f:03d}.parquet"), row_group_size=131_072)


def median_pass(client, data, repeat: int) -> list[float]:
    """Seconds of ``repeat`` loss-and-gradient passes over ``data`` (no cache)."""
    layout = data_layout(data)
    width = data.X.shape[1] if layout is None else layout.width
    coef = np.zeros(width)
    options = PassOptions(check_chunks=False)
    arrays = (data.X, data.y, data.sample_weight)
    seconds = []
    with passes_over(client, arrays, options, cache="none", layout=layout) as (run_pass, _):
        for _ in range(repeat):
            started = time.perf_counter()
            run_pass(logistic_sums, coef, 0.0)
            seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16_000_000)
    parser.add_argument("--numeric", type=int, default=64)
    parser.add_argument("--levels", type=int, default=1000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", help="where to write the data (default: a temporary folder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        started = time.perf_counter()
        write_dataset(folder, args.rows, args.numeric, args.levels, args.files)
        print(f"wrote {args.rows} rows in {time.perf_counter() - started:.0f} s", flush=True)
        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            numeric_names = [f"x{j}" for j in range(args.numeric + 1)]
            started = time.perf_counter()
            numeric = dasklr.read_parquet(folder, "y", features=numeric_names)
            read_numeric = time.perf_counter() - started
            started = time.perf_counter()
            coded = dasklr.read_parquet(
                folder, "y", features=numeric_names[:-1], categorical=["region"]
            )
            read_coded = time.perf_counter() - started
            sides = {"numeric": numeric, "categorical": coded}
            passes: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(args.repeat):  # interleaved, so that drift hits both alike
                for name, data in sides.items():
                    passes[name] += median_pass(client, data, 1)
            fits = {}
            for name, data in sides.items():
                model = dasklr.LogisticRegression(
                    solver="newton", cache="none", alpha=0, tol=1e-6, client=client
                )
                started = time.perf_counter()
                model.fit(data)
                fits[name] = (time.perf_counter() - started, model)

    print(
        f"{args.rows} rows; numeric: {args.numeric + 1} float64 features; categorical: "
        f"{args.numeric} float64 + 1 column of {args.levels} levels "
        f"({len(coded.feature_names)} coefficients); {args.workers} workers, cache='none'"
    )
    print(f"read_parquet: numeric {read_numeric:.2f} s, categorical {read_coded:.2f} s (levels)")
    header = f"{'':14s}{'pass s':>9s}{'fit s':>9s}{'passes':>8s}{'fit pass s':>12s}"
    print(header)
    rows = {}
    for name in sides:
        seconds, model = fits[name]
        pass_median = statistics.median(passes[name])
        fit_pass = statistics.median(model.pass_seconds_)
        rows[name] = (pass_median, seconds, fit_pass)
        print(f"{name:14s}{pass_median:9.2f}{seconds:9.1f}{model.n_passes_:8d}{fit_pass:12.2f}")
    ratios = [rows["categorical"][k] / rows["numeric"][k] for k in range(3)]
    print(
        f"ratio categorical / numeric: pass {ratios[0]:.2f}x, fit {ratios[1]:.2f}x, "
        f"fit pass {ratios[2]:.2f}x (target: pass <= 2x)"
    )


if __name__ == "__main__":
    main()
