"""What one pass over Parquet costs: dasklr's tree reduction against a bare parallel read.

    python benchmarks/pass_cost.py [--rows 1000000] [--features 64] [--repeat 5]

Both sides run in this script on the same files, with the same number of processes:
- the reference: pyarrow decodes every row group into float64 NumPy arrays in a process
  pool of as many processes as the cluster has workers (no Dask, no arithmetic);
- dasklr: one ``tree_reduce`` of the loss-and-gradient kernel over the same files on a
  ``LocalCluster`` (one process per worker, one thread each), as a fit does every pass.
Prints medians over ``--repeat`` runs, the decoded GB/s and the ratio of the two.
"""

import argparse
import logging
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pyarrow.parquet as pq
from distributed import Client, LocalCluster

import dasklr
from dasklr.data.synthetic import make_classification, write_parquet_dataset
from dasklr.kernels.logistic import logistic_sums
from dasklr.passes.merge import merge_sums
from dasklr.passes.reduction import ChunkGraph, tree_reduce


def bare_read(path: str) -> int:
    """Decode every column of a file into one float64 array; return the bytes decoded."""
    with pq.ParquetFile(path) as parquet:
        table = parquet.read()
    out = np.empty((table.num_rows, table.num_columns), dtype=np.float64, order="F")
    for j, column in enumerate(table.columns):
        start = 0
        for piece in column.chunks:
            out[start : start + len(piece), j] = piece.to_numpy(zero_copy_only=False)
            start += len(piece)
    return out.nbytes


def median_seconds(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--row-group-rows", type=int, default=131_072)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        X, y, _, _ = make_classification(args.rows, args.features, seed=0)
        paths = write_parquet_dataset(
            tmp, X, y, n_files=args.files, row_group_rows=args.row_group_rows
        )
        decoded_gb = X.nbytes / 1e9
        del X, y
        files = [str(p) for p in paths]

        with ProcessPoolExecutor(args.workers) as pool:
            list(pool.map(bare_read, files))  # warm the page cache and the processes
            bare = median_seconds(lambda: list(pool.map(bare_read, files)), args.repeat)

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
            data = dasklr.read_parquet(tmp, label="y")
            chunks = ChunkGraph.from_arrays(data.X, data.y, data.sample_weight)
            coef = np.zeros(args.features)

            def one_pass():
                tree_reduce(client, chunks, logistic_sums, (coef, 0.0), merge_sums)

            one_pass()
            dasklr_pass = median_seconds(one_pass, args.repeat)

    print(
        f"data: {args.rows} rows x {args.features} float64 features = {decoded_gb:.2f} GB "
        f"decoded, {args.files} files, {data.X.numblocks[0]} chunks, {args.workers} processes"
    )
    print(f"{'':32s}{'median s':>10s}{'GB/s':>8s}")
    print(f"{'bare pyarrow read (reference)':32s}{bare:10.3f}{decoded_gb / bare:8.2f}")
    print(f"{'dasklr pass (read + kernel)':32s}{dasklr_pass:10.3f}{decoded_gb / dasklr_pass:8.2f}")
    print(f"ratio dasklr / reference: {dasklr_pass / bare:.2f}")


if __name__ == "__main__":
    main()
