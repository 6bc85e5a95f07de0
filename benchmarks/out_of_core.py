"""Out of core in one run: dasklr's default fit against a bare parallel Parquet scan,
dask-ml's Newton and scikit-learn, at two sizes, with the targets checked.

    .venv-bench/bin/python benchmarks/out_of_core.py [--size small|large|both]
        [--block-rows 1000000] [--copies 16] [--features 64] [--workers 2]
        [--worker-memory 1.5GiB] [--alpha 1e-6] [--tol 1e-8] [--repeat 3] [--skip-peers]
        [--dir DIR]

One block of ``--block-rows`` rows (``make_classification``, seed 0) is written as 8
Parquet files of 131072-row row groups, then byte-copied (scale.py's ``write_copies``):
the mean loss of the copies equals the block's, so F* (and every gap) is computed in
NumPy on the block alone (solvers.py's ``Reference``). Two sizes:
- small: the block alone, on 2 workers × 1 thread with the default memory limit;
- large: ``--copies`` copies of it, on 2 workers × 1 thread × ``--worker-memory`` each.
For each size, each system on a fresh ``LocalCluster`` of those workers:
1. the reference: a bare pyarrow decode of every file into float64 NumPy in a pool of as
   many processes as workers (warmed once; the median of ``--repeat``, of 1 for large);
2. dasklr's defaults (``solver="auto"``, ``cache="auto"``): wall seconds, ``n_passes_``,
   the first pass and the median of the later ones (``pass_seconds_``, or else from
   ``history_``), ``cache_``, the gap (F − F*)/F* and each worker's peak memory (VmHWM);
3. dask-ml's Newton streamed from the same files (scale.py's ``run_dask_ml``);
4. small only: scikit-learn's newton-cholesky in memory, timed with the pyarrow load of
   the files into NumPy.
Then each ratio against its target, PASS or FAIL, and one JSON line of all the numbers.
``--skip-peers`` leaves out 3 and 4 (the script still needs the benchmark env, for
solvers.py). dasklr's disk cache, if it picks one, goes under ``--dir`` with the data.
"""

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from dask.utils import format_bytes
from distributed import Client
from scale import bare_seconds, cluster, failed, peak_memory, run_dask_ml, write_copies
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from solvers import Reference, read_in_memory, silence_warnings

import dasklr
from dasklr.data.synthetic import make_classification

FILES_PER_COPY = 8
ROW_GROUP_ROWS = 131_072
NAN = float("nan")
#: size → (label, numerator, denominator, limit): PASS when numerator/denominator ≤ limit.
TARGETS = {
    "small": [
        ("dasklr fit / bare scan", "fit", "scan", 4.0),
        ("dasklr fit / scikit-learn + load", "fit", "sklearn", 1.0),
        ("first pass / bare scan", "first_pass", "scan", 1.3),
    ],
    "large": [
        ("dasklr fit / bare scan", "fit", "scan", 3.0),
        ("dasklr fit / dask-ml newton", "fit", "dask_ml", 1 / 8),
        ("first pass / bare scan", "first_pass", "scan", 1.3),
        ("later passes / bare scan", "later_pass", "scan", 0.35),
    ],
}


def pass_seconds(model) -> tuple[list[float], str]:
    """Seconds of each pass: the model's own, or else spread evenly over ``history_``."""
    seconds = getattr(model, "pass_seconds_", None)
    if seconds is not None:
        return list(seconds), "pass_seconds_"
    out, last_seconds, last_passes = [], 0.0, 0
    for entry in model.history_:
        passes = entry["passes"] - last_passes
        if passes > 0:
            out += [(entry["seconds"] - last_seconds) / passes] * passes
            last_seconds, last_passes = entry["seconds"], entry["passes"]
    return out, "history_"


def run_dasklr(files, args, memory, reference: Reference, cache_dir: str) -> dict:
    with cluster(args.workers, memory) as local, Client(local) as client:
        start = time.perf_counter()
        model = dasklr.LogisticRegression(
            alpha=args.alpha, tol=args.tol, cache_dir=cache_dir, client=client
        ).fit(dasklr.read_parquet(files, label="y"))
        seconds = time.perf_counter() - start
        passes, source = pass_seconds(model)
        return {
            "system": f"dasklr ({model.solver_}, cache {model.cache_})",
            "passes": model.n_passes_,
            "seconds": seconds,
            "first_pass": passes[0] if passes else NAN,
            "later_pass": statistics.median(passes[1:]) if len(passes) > 1 else NAN,
            "cache": model.cache_,
            "gap": reference.gap(model.coef_[0], float(model.intercept_[0])),
            "peaks": peak_memory(client),
            "note": f"per pass from {source}",
        }


def run_sklearn(files, args, reference: Reference) -> dict:
    start = time.perf_counter()
    X, y, _ = read_in_memory(files)
    model = SklearnLogisticRegression(
        solver="newton-cholesky", C=1.0 / (args.alpha * len(y)), tol=args.tol, max_iter=100
    ).fit(X, y)
    return {
        "system": "scikit-learn (newton-cholesky)",
        "passes": NAN,
        "seconds": time.perf_counter() - start,
        "gap": reference.gap(model.coef_[0], float(model.intercept_[0])),
        "peaks": [],
        "note": f"in memory, pyarrow load included; n_iter={model.n_iter_[0]}",
    }


def measure(size: str, files: list[str], args, reference: Reference, cache_dir: str) -> dict:
    """Every system on one size's files; prints its rows as they finish."""
    large = size == "large"
    memory = args.worker_memory if large else None
    scan = bare_seconds(files, args.workers, 1 if large else args.repeat)
    n_rows = args.block_rows * (args.copies if large else 1)
    gb = 8 * n_rows * args.features / 1e9
    print(
        f"\n{size}: {n_rows} rows x {args.features} float64 = {gb:.2f} GB decoded, "
        f"{len(files)} files, {args.workers} workers x 1 thread, memory limit "
        f"{memory or 'default'}; alpha={args.alpha:g}, tol={args.tol:g}, "
        f"F* = {reference.f_star:.15g}"
    )
    print(
        f"  {'system':34s}{'seconds':>9s}{'passes':>7s}{'first s':>9s}{'later s':>9s}"
        f"{'gap':>10s}  worker peaks"
    )
    print(f"  {'bare pyarrow scan (reference)':34s}{scan:9.3f}  {gb / scan:.2f} GB/s", flush=True)
    runs = [run_dasklr(files, args, memory, reference, cache_dir)]
    print_row(runs[-1])
    if not args.skip_peers:
        peer_args = argparse.Namespace(**{**vars(args), "worker_memory": memory})
        newton = partial(run_dask_ml, files, "newton", peer_args, reference, n_rows)
        peers = {"dask-ml (newton)": newton}
        if not large:
            peers["scikit-learn (newton-cholesky)"] = partial(run_sklearn, files, args, reference)
        for system, run in peers.items():
            try:
                runs.append(run())
            except Exception as exc:  # a peer that fails is a result to report, not a crash
                runs.append(failed(system, exc))
            print_row(runs[-1])
    dasklr_run = runs[0]
    seconds = {"scan": scan, "fit": dasklr_run["seconds"], "dask_ml": NAN, "sklearn": NAN}
    seconds |= {key: dasklr_run[key] for key in ("first_pass", "later_pass")}
    for run in runs[1:]:
        seconds["dask_ml" if run["system"].startswith("dask-ml") else "sklearn"] = run["seconds"]
    targets = []
    for label, numerator, denominator, limit in TARGETS[size]:
        ratio = seconds[numerator] / seconds[denominator]
        verdict = "n/a" if math.isnan(ratio) else "PASS" if ratio <= limit else "FAIL"
        parts = f"{seconds[numerator]:.3f} s / {seconds[denominator]:.3f} s"
        print(f"  {label:34s}{ratio:9.3f}  target <= {limit:.3g}  {verdict}  ({parts})")
        targets.append({"target": label, "ratio": ratio, "limit": limit, "verdict": verdict})
    return {"rows": n_rows, "seconds": seconds, "runs": runs, "targets": targets}


def print_row(run: dict) -> None:
    def cell(key, spec, width):
        value = run.get(key, NAN)
        return f"{'-' if math.isnan(value) else format(value, spec):>{width}s}"

    peaks = ", ".join(format_bytes(p) for p in run["peaks"]) or "-"
    print(
        f"  {run['system']:34s}{cell('seconds', '.3f', 9)}{cell('passes', '.3g', 7)}"
        f"{cell('first_pass', '.3f', 9)}{cell('later_pass', '.3f', 9)}{cell('gap', '.2e', 10)}"
        f"  {peaks}  {run.get('note', '')}",
        flush=True,
    )


def finite(value):
    """The value with NaN as None, all the way down: strict JSON."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "large", "both"), default="both")
    parser.add_argument("--dir", help="where to write the data (default: a temp folder)")
    parser.add_argument("--block-rows", type=int, default=1_000_000)
    parser.add_argument("--copies", type=int, default=16, help="copies of the block (large)")
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--worker-memory",
        default="1.5GiB",
        help="per worker (large); workers pause at 80%%, and one at rest holds ~350 MiB",
    )
    parser.add_argument("--alpha", type=float, default=1e-6)
    parser.add_argument("--tol", type=float, default=1e-8)
    parser.add_argument("--repeat", type=int, default=3, help="bare scans (small)")
    parser.add_argument("--skip-peers", action="store_true", help="no dask-ml, no sklearn")
    parser.set_defaults(dask_ml_max_iter=None)  # read by scale.run_dask_ml
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    sizes = ["small", "large"] if args.size == "both" else [args.size]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp) / "data"
        folder.mkdir()
        X, y, _, _ = make_classification(args.block_rows, args.features, seed=0)
        copies = args.copies if "large" in sizes else 1
        files = write_copies(folder, X, y, copies, FILES_PER_COPY, ROW_GROUP_ROWS)
        os.sync()  # the data on disk before anything is timed: no write-back competes
        reference = Reference.compute(X, y.astype(np.float64), args.alpha)
        del X, y
        chosen = {"small": files[:FILES_PER_COPY], "large": files}
        cache_dir = str(Path(tmp) / "cache")
        results = {size: measure(size, chosen[size], args, reference, cache_dir) for size in sizes}
    settings = {key: getattr(args, key) for key in ("block_rows", "copies", "features", "workers")}
    summary = {**settings, "worker_memory": args.worker_memory, "alpha": args.alpha}
    summary |= {"tol": args.tol, "f_star": reference.f_star, "sizes": results}
    print(json.dumps(finite(summary)))


if __name__ == "__main__":
    silence_warnings()
    main()
