"""A penalty grid with k-fold cross-validation: passes and seconds, lockstep against one by one.

    python benchmarks/path_cv.py [--rows 1000000] [--features 64] [--alphas 12] [--folds 5]
                                 [--cache auto] [--peer-fits 2] [--quick]

The issue's target: the whole path with CV in at most 3× the passes of one cold fit.
On one Parquet dataset and one ``LocalCluster`` (2 workers × 1 thread), in order:

1. one cold fit of ``dasklr.LogisticRegression`` at the middle alpha: the unit of cost;
2. ``dasklr.LogisticRegressionCV``: every (alpha, fold) model and every alpha's model on
   all rows in the same passes (``dasklr.fit.grid``), then one pass to score the folds;
3. the same grid as separate cold dasklr fits, one per (alpha, fold) plus the refit at
   the chosen alpha — a fold's fit is the full data with its held-out rows weighted 0,
   exactly the problem the lockstep solves, so their held-out losses must agree;
4. the regularisation path alone with warm starts: each alpha's fit (all rows) starts
   from the previous alpha's coefficients, one after the other;
5. dask-ml 2025.1 (when installed): ``--peer-fits`` of the grid's fold fits, one by one
   (L-BFGS, the dask-ml solver that honours the penalty; its Newton ignores it). A whole
   grid of them takes hours here, so only their per-fit median is measured and printed.

Every dasklr fit uses the same ``--cache`` (``auto``: in memory when it fits). Passes
are the fitted ``n_passes_``; seconds are wall-clock of the fit calls.
"""

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import dasklr
from dasklr.data.synthetic import make_classification, write_parquet_dataset
from dasklr.kernels.folds import fold_of


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--alphas", type=int, default=12)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--cache", default="auto")
    parser.add_argument("--peer-fits", type=int, default=2)
    parser.add_argument("--row-group-rows", type=int, default=65_536)
    parser.add_argument("--dir", default=None, help="where to write the data (default: /tmp)")
    parser.add_argument("--quick", action="store_true", help="50,000 rows, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.row_group_rows = 50_000, 8192
    return args


def fold_weights(data: dasklr.ParquetData, fold: int, folds: int) -> da.Array:
    """1 on the training rows of ``fold`` and 0 on its held-out rows (dasklr's folds)."""
    starts = np.concatenate([[0], np.cumsum(data.y.chunks[0])[:-1]])

    def weights(block, block_info=None):
        start = int(starts[block_info[0]["chunk-location"][0]])
        rows = np.arange(start, start + block.shape[0])
        return (fold_of(rows, folds) != fold).astype(np.float64)

    return data.y.map_blocks(weights, dtype=np.float64)


def timed(fit):
    started = time.perf_counter()
    result = fit()
    return result, time.perf_counter() - started


def main() -> None:
    args = parse_args()
    alphas = np.logspace(0, -6, args.alphas)
    params = {"tol": args.tol, "cache": args.cache}
    with (
        tempfile.TemporaryDirectory(dir=args.dir) as tmp,
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        X, y, _, _ = make_classification(args.rows, args.features, seed=0)
        write_parquet_dataset(tmp, X, y, n_files=4, row_group_rows=args.row_group_rows)
        del X, y
        data = dasklr.read_parquet(tmp, label="y")
        middle = float(alphas[len(alphas) // 2])

        cold, cold_seconds = timed(
            lambda: dasklr.LogisticRegression(alpha=middle, client=client, **params).fit(data)
        )
        print(f"one cold fit (alpha={middle:g}): {cold.n_passes_} passes, {cold_seconds:.1f} s")

        grid = dasklr.LogisticRegressionCV(alphas=alphas, cv=args.folds, client=client, **params)
        _, grid_seconds = timed(lambda: grid.fit(data))
        models = len(alphas) * (args.folds + 1)
        print(
            f"lockstep grid ({len(alphas)} alphas x {args.folds} folds + all rows = {models} "
            f"models): {grid.n_passes_} passes, {grid_seconds:.1f} s; alpha_ = {grid.alpha_:g}"
        )

        separate_passes, separate_seconds = 0, 0.0
        for f in range(args.folds):
            w = fold_weights(data, f, args.folds)
            for alpha in alphas:
                model, seconds = timed(
                    lambda alpha=alpha, w=w: dasklr.LogisticRegression(
                        alpha=alpha, client=client, **params
                    ).fit(data.X, data.y, w)
                )
                separate_passes += model.n_passes_
                separate_seconds += seconds
        refit, seconds = timed(
            lambda: dasklr.LogisticRegression(alpha=grid.alpha_, client=client, **params).fit(data)
        )
        separate_passes += refit.n_passes_
        separate_seconds += seconds
        np.testing.assert_allclose(refit.coef_, grid.coef_, atol=1e-6)
        print(
            f"separate cold fits ({args.folds * len(alphas)} + 1 refit): {separate_passes} "
            f"passes, {separate_seconds:.1f} s"
        )

        warm_passes, warm_seconds = 0, 0.0
        warm = dasklr.LogisticRegression(warm_start=True, client=client, **params)
        for alpha in alphas:
            _, seconds = timed(lambda alpha=alpha: warm.set_params(alpha=alpha).fit(data))
            warm_passes += warm.n_passes_
            warm_seconds += seconds
        path, path_seconds = timed(
            lambda: dasklr.fit_path(data, alphas=alphas, client=client, **params)
        )
        print(
            f"path alone, {len(alphas)} alphas: warm starts one by one {warm_passes} passes, "
            f"{warm_seconds:.1f} s; lockstep {path.n_passes} passes, {path_seconds:.1f} s"
        )

        peer = peer_fits(tmp, alphas, args, client) if args.peer_fits else None

    print("\nsummary")
    print(f"  {'':44s}{'passes':>8s}{'seconds':>10s}{'x cold passes':>15s}")
    rows = [
        ("one cold fit", cold.n_passes_, cold_seconds),
        ("grid + CV, lockstep (dasklr)", grid.n_passes_, grid_seconds),
        ("grid + CV, separate cold fits (dasklr)", separate_passes, separate_seconds),
        ("path, warm starts one by one (dasklr)", warm_passes, warm_seconds),
        ("path, lockstep (dasklr)", path.n_passes, path_seconds),
    ]
    for name, passes, seconds in rows:
        print(f"  {name:44s}{passes:8d}{seconds:10.1f}{passes / cold.n_passes_:15.2f}")
    print(
        f"  lockstep / separate: passes {grid.n_passes_ / separate_passes:.3f}, "
        f"seconds {grid_seconds / separate_seconds:.3f}"
    )
    if peer is not None:
        print(
            f"  dask-ml L-BFGS, one fold fit: median {peer:.1f} s of {args.peer_fits} "
            f"(the grid is {args.folds * len(alphas) + 1} such fits; not run)"
        )


def peer_fits(folder: str, alphas: np.ndarray, args, client) -> float | None:
    """Median seconds of dask-ml L-BFGS fold fits (penalty as dask-glm counts it)."""
    try:
        import dask.dataframe as dd
        from dask_ml.linear_model import LogisticRegression as DaskMLLogisticRegression
    except ImportError:
        print("dask-ml is not installed: no peer (see benchmarks/requirements.txt)")
        return None
    # fold 0's training rows as Parquet files of their own, written before any clock starts
    import pyarrow.parquet as pq

    table = pq.read_table(folder)
    keep = fold_of(np.arange(table.num_rows), args.folds) != 0
    fold_dir = Path(folder) / "fold0-train"
    features = [c for c in table.column_names if c != "y"]
    X = np.column_stack([table.column(c).to_numpy() for c in features])
    write_parquet_dataset(
        fold_dir,
        X[keep],
        table.column("y").to_numpy()[keep],
        n_files=4,
        row_group_rows=args.row_group_rows,
    )
    del table, X
    n_train = int(keep.sum())
    times = []
    for k in range(args.peer_fits):
        alpha = float(alphas[(len(alphas) // 2 + k) % len(alphas)])
        started = time.perf_counter()
        frame = dd.read_parquet(fold_dir)
        both = frame.to_dask_array(lengths=True)  # one array; X and y sliced from it
        X = both[:, [frame.columns.get_loc(c) for c in features]]
        y = both[:, frame.columns.get_loc("y")]
        model = DaskMLLogisticRegression(  # as benchmarks/solvers.py sets it up
            solver="lbfgs",
            C=1.0 / (alpha * n_train),
            tol=args.tol * n_train,
            solver_kwargs={"normalize": False},
        )
        model.fit(X, y)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    main()
