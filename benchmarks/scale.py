"""Larger than memory: the cost of a pass with each cache, and the time to the optimum on
data larger than the workers' total memory limit, against dask-ml's fastest solver.

    .venv-bench/bin/python benchmarks/scale.py [--block-rows 1000000] [--copies 16]
        [--worker-memory 1.5GiB] [--features 64] [--repeat 3] [--peers dask-ml:newton]

The dataset is one generated block of rows written ``--copies`` times, one file per copy:
the mean loss over the copies equals the block's own, so F* (and every gap) is computed
in NumPy on the block alone, while the systems read every file. All in this one script:

1. **Pass cost** on the first ``--pass-copies`` files, on a two-process ``LocalCluster``
   without memory limits: a bare pyarrow decode of the files into float64 NumPy in a
   pool of as many processes (the reference), then one dasklr pass (decode or load,
   loss-and-gradient kernel, tree reduction) with ``cache="none"``, ``"disk"`` and
   ``"memory"``: the first pass, and the median of ``--repeat`` passes after it.
2. **To the optimum** on all the files, each system on a fresh ``LocalCluster`` whose
   workers have ``--worker-memory`` each: dasklr's defaults (``solver="auto"``,
   ``cache="auto"``) and dask-ml's Newton (its fastest here: see benchmarks/solvers.py),
   with wall seconds, passes (dasklr's ``n_passes_``; dask-ml's Parquet reads counted by
   the scheduler), the gap (F − F*)/F*, and each worker's peak resident memory.
"""

import argparse
import logging
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from dask.utils import format_bytes, parse_bytes
from distributed import Client, LocalCluster
from pass_cost import bare_read, median_seconds
from solvers import (
    DASK_ML_SOLVERS,
    ReadCounter,
    Reference,
    dask_ml_frame,
    fit_dask_ml,
    silence_warnings,
)

import dasklr
from dasklr.data.synthetic import make_classification
from dasklr.kernels.logistic import logistic_sums
from dasklr.passes.cache import cached_chunks
from dasklr.passes.merge import merge_sums
from dasklr.passes.reduction import ChunkGraph, tree_reduce


def write_copies(folder: Path, X, y, copies: int, files_per_copy: int, group: int) -> list:
    """The block as ``files_per_copy`` files, then byte copies of them; copy by copy."""
    table = pa.table({**{f"x{j}": X[:, j] for j in range(X.shape[1])}, "y": y})
    rows = -(-table.num_rows // files_per_copy)
    originals = []
    for k in range(files_per_copy):
        originals.append(folder / f"part-000-{k:02d}.parquet")
        pq.write_table(table.slice(k * rows, rows), originals[-1], row_group_size=group)
    paths = list(originals)
    for i in range(1, copies):
        for k, original in enumerate(originals):
            paths.append(folder / f"part-{i:03d}-{k:02d}.parquet")
            shutil.copyfile(original, paths[-1])
    return [str(p) for p in paths]


def cluster(workers: int, memory_limit: str | None) -> LocalCluster:
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        memory_limit=memory_limit or "auto",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    )


def bare_seconds(files: list[str], workers: int, repeat: int) -> float:
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(bare_read, files))  # warm the page cache and the processes
        return median_seconds(lambda: list(pool.map(bare_read, files)), repeat)


def pass_costs(files: list[str], args, cache_dir: str) -> dict[str, tuple[float, float]]:
    """cache → (first pass seconds, median seconds of the passes after it)."""
    out = {}
    with cluster(args.workers, None) as local, Client(local) as client:
        data = dasklr.read_parquet(files, label="y")
        coef = np.zeros(args.features)
        for mode in ("none", "disk", "memory"):
            with cached_chunks(client, ChunkGraph.from_arrays(*data), mode, cache_dir) as chunks:

                def one_pass(chunks=chunks):
                    tree_reduce(client, chunks, logistic_sums, (coef, 0.0), merge_sums)

                start = time.perf_counter()
                one_pass()
                first = time.perf_counter() - start
                out[mode] = first, median_seconds(one_pass, args.repeat)
    return out


def peak_memory(client: Client) -> list[int]:
    """Each worker process's peak resident memory in bytes: VmHWM of /proc/self/status.

    (Not getrusage's ru_maxrss, which Linux carries over from the parent process across
    fork and exec: a spawned worker would report this script's peak.)
    """
    statuses = client.run(Path("/proc/self/status").read_text).values()
    return [
        int(line.split()[1]) * 1024
        for text in statuses
        for line in text.splitlines()
        if line.startswith("VmHWM:")
    ]


def run_dasklr(files, args, reference: Reference, cache_dir: str) -> dict:
    with cluster(args.workers, args.worker_memory) as local, Client(local) as client:
        start = time.perf_counter()
        model = dasklr.LogisticRegression(
            alpha=args.alpha, tol=args.tol, cache_dir=cache_dir, client=client
        ).fit(dasklr.read_parquet(files, label="y"))
        seconds = time.perf_counter() - start
        return {
            "system": f"dasklr ({model.solver_}, cache {model.cache_})",
            "passes": model.n_passes_,
            "seconds": seconds,
            "gap": reference.gap(model.coef_[0], float(model.intercept_[0])),
            "peaks": peak_memory(client),
        }


def run_dask_ml(folder: Path, solver: str, args, reference: Reference, n_rows: int) -> dict:
    features = [f"x{j}" for j in range(args.features)]
    with cluster(args.workers, args.worker_memory) as local, Client(local) as client:
        counter = ReadCounter(local.scheduler)
        local.scheduler.add_plugin(counter)
        client.run(silence_warnings)
        partitions = dask_ml_frame(folder, features).npartitions
        start = time.perf_counter()
        fit = fit_dask_ml(folder, solver, args, features, n_rows)
        seconds = time.perf_counter() - start
        return {
            "system": f"dask-ml ({solver})",
            "passes": counter.reads / partitions,
            "seconds": seconds,
            "gap": reference.gap(fit.coef, fit.intercept),
            "peaks": peak_memory(client),
            "note": fit.note,
        }


def failed(system: str, exc: Exception) -> dict:
    message = f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    nan = float("nan")
    return {
        "system": system,
        "passes": nan,
        "seconds": nan,
        "gap": nan,
        "peaks": [],
        "note": message,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block-rows", type=int, default=1_000_000)
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--pass-copies", type=int, default=1, help="copies for the pass costs")
    parser.add_argument("--files-per-copy", type=int, default=8)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--row-group-rows", type=int, default=131_072)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="1.5GiB")
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peers", nargs="*", default=["dask-ml:newton"])
    parser.add_argument("--dask-ml-max-iter", type=int, default=None)
    parser.add_argument("--dir", help="where to write the data (default: a temp folder)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp) / "data"
        folder.mkdir()
        X, y, _, _ = make_classification(args.block_rows, args.features, seed=0)
        files = write_copies(folder, X, y, args.copies, args.files_per_copy, args.row_group_rows)
        reference = Reference.compute(X, y.astype(np.float64), args.alpha)
        block_gb = 8 * X.size / 1e9
        del X
        n_rows = args.block_rows * args.copies
        cache_dir = str(Path(tmp) / "cache")

        small = files[: args.pass_copies * args.files_per_copy]
        costs = pass_costs(small, args, cache_dir)
        bare_small = bare_seconds(small, args.workers, args.repeat)
        bare_all = bare_seconds(files, args.workers, 1)
        runs = [run_dasklr(files, args, reference, cache_dir)]
        print(f"finished: {runs[-1]}", flush=True)
        for peer in args.peers:
            solver = peer.split(":", 1)[1]
            if solver not in DASK_ML_SOLVERS:
                raise SystemExit(f"unknown peer {peer}; dask-ml solvers: {list(DASK_ML_SOLVERS)}")
            try:
                runs.append(run_dask_ml(folder, solver, args, reference, n_rows))
            except Exception as exc:  # a peer that fails is a result to report, not a crash
                runs.append(failed(f"dask-ml ({solver})", exc))
            print(f"finished: {runs[-1]}", flush=True)

    small_gb = block_gb * args.pass_copies
    all_gb = block_gb * args.copies
    limit = parse_bytes(args.worker_memory)
    print(
        f"pass cost: {args.pass_copies * args.block_rows} rows x {args.features} float64 = "
        f"{small_gb:.2f} GB decoded, {args.workers} processes, median of {args.repeat}"
    )
    print(f"  {'':34s}{'first s':>9s}{'next s':>9s}{'GB/s':>7s}")
    reference_line = f"{'':>9s}{bare_small:9.3f}{small_gb / bare_small:7.2f}"
    print(f"  {'bare pyarrow read (reference)':34s}{reference_line}")
    for mode, (first, later) in costs.items():
        name = f"dasklr pass, cache={mode!r}"
        print(f"  {name:34s}{first:9.3f}{later:9.3f}{small_gb / later:7.2f}")
    print(
        f"\nto the optimum: {n_rows} rows x {args.features} = {all_gb:.2f} GB decoded "
        f"({args.copies} copies of one block, {len(files)} files), {args.workers} workers x "
        f"{format_bytes(limit)} = {format_bytes(args.workers * limit)} memory limit; "
        f"bare read of all files: {bare_all:.1f} s ({all_gb / bare_all:.2f} GB/s); "
        f"alpha={args.alpha:g}, tol={args.tol:g}, F* = {reference.f_star:.15g}"
    )
    print(f"  {'system':34s}{'passes':>7s}{'seconds':>9s}{'gap':>10s}  worker peaks")
    for run in runs:
        peaks = ", ".join(format_bytes(p) for p in run["peaks"])
        print(
            f"  {run['system']:34s}{run['passes']:7.3g}{run['seconds']:9.1f}{run['gap']:10.2e}"
            f"  {peaks}  {run.get('note', '')}"
        )
    for other in runs[1:]:
        print(f"  dasklr / {other['system']}: {runs[0]['seconds'] / other['seconds']:.3f}")


if __name__ == "__main__":
    silence_warnings()
    main()
