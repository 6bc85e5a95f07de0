"""Many small files against a few large ones: the same rows, one pass each.

    python benchmarks/small_files.py [--rows 1000000] [--features 8] [--small-files 5000]

The same rows are written twice: into ``--small-files`` files (200 rows each by default)
and into ``--large-files`` files. On one two-worker ``LocalCluster`` (one thread each),
the script times, as medians over ``--repeat`` runs:
- ``read_parquet`` (list the files, read every footer, read the label column for the
  classes), on each layout;
- one pass over each layout (read, decode, loss and gradient, tree reduction, with no
  cache), as every pass of a fit with ``cache="none"`` costs;
- a default fit (``cache="auto"``: the first pass decodes the chunks into the workers'
  memory, later passes read them there), its seconds and passes;
- once, a pass over the small files planned the way dasklr did before small files were
  grouped (one task a file), for scale.
It prints the ratios small / large and checks the target, 2×, on the seconds per pass of
the default fit and of a pass without a cache.
"""

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from distributed import Client, LocalCluster

import dasklr
from dasklr.data.synthetic import make_classification, write_parquet_dataset
from dasklr.kernels.logistic import logistic_sums
from dasklr.passes.merge import merge_sums
from dasklr.passes.reduction import ChunkGraph, tree_reduce

TARGET = 2.0


def median_seconds(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pass_seconds(client: Client, data, repeat: int) -> float:
    """One loss-and-gradient pass over ``data``, re-reading the Parquet files each time."""
    chunks = ChunkGraph.from_arrays(data.X, data.y, data.sample_weight)
    coef = np.zeros(data.X.shape[1])

    def one_pass():
        tree_reduce(client, chunks, logistic_sums, (coef, 0.0), merge_sums)

    one_pass()  # warm the workers' imports and the page cache
    return median_seconds(one_pass, repeat)


def fit_seconds(client: Client, data, repeat: int) -> tuple[float, int]:
    """A default fit (its cache decided by dasklr): median seconds, and its passes."""
    models = []

    def fit():
        models.append(dasklr.LogisticRegression(alpha=1e-4, client=client).fit(data))

    seconds = median_seconds(fit, repeat)
    return seconds, models[-1].n_passes_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--small-files", type=int, default=5000)
    parser.add_argument("--large-files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-one-task-a-file", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        X, y, _, _ = make_classification(args.rows, args.features, seed=0)
        small, large = Path(tmp) / "small", Path(tmp) / "large"
        write_parquet_dataset(small, X, y, n_files=args.small_files)
        write_parquet_dataset(large, X, y, n_files=args.large_files)
        del X, y

        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            found: dict[str, tuple[float, float, int]] = {}
            fits: dict[str, tuple[float, int]] = {}
            for name, folder in (("large", large), ("small", small)):
                opened = median_seconds(
                    lambda f=folder: dasklr.read_parquet(f, label="y"), args.repeat
                )
                data = dasklr.read_parquet(folder, label="y")
                one_pass = pass_seconds(client, data, args.repeat)
                found[name] = (opened, one_pass, len(data.X.chunks[0]))
                fits[name] = fit_seconds(client, data, args.repeat)
            before = None
            if not args.skip_one_task_a_file:
                # one task a file: a chunk budget of one small file, so none are grouped
                file_bytes = (args.rows // args.small_files) * (8 * args.features + 16)
                data = dasklr.read_parquet(small, label="y", chunk_bytes=file_bytes)
                assert len(data.X.chunks[0]) == args.small_files
                before = pass_seconds(client, data, 1)

    print(
        f"data: {args.rows} rows x {args.features} float64 features; "
        f"{args.small_files} small files against {args.large_files} large; 2 worker processes"
    )
    print("medians in seconds")
    print(
        f"{'layout':28s}{'chunks':>7s}{'read_parquet':>13s}{'pass, no cache':>16s}"
        f"{'default fit':>13s}{'passes':>8s}{'s/pass':>8s}"
    )
    for name, files in (("large", args.large_files), ("small", args.small_files)):
        opened, one_pass, chunks = found[name]
        seconds, passes = fits[name]
        print(
            f"{f'{files} files':28s}{chunks:7d}{opened:13.3f}{one_pass:16.3f}"
            f"{seconds:13.3f}{passes:8d}{seconds / passes:8.3f}"
        )
    if before is not None:
        label = f"{args.small_files} files, a task each"
        print(f"{label:28s}{args.small_files:7d}{'':>13s}{before:16.3f}")
    ratios = {
        "read_parquet": found["small"][0] / found["large"][0],
        "pass without a cache": found["small"][1] / found["large"][1],
        "default fit, seconds a pass": (fits["small"][0] / fits["small"][1])
        / (fits["large"][0] / fits["large"][1]),
    }
    for what, ratio in ratios.items():
        verdict = "" if what == "read_parquet" else f"  (target <= {TARGET}: "
        verdict += "" if what == "read_parquet" else ("met)" if ratio <= TARGET else "NOT met)")
        print(f"ratio small / large, {what}: {ratio:.2f}{verdict}")


if __name__ == "__main__":
    main()
