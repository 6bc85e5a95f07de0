"""Time to the optimum: dasklr's solvers against dask-ml's and scikit-learn's, same data.

    python benchmarks/solvers.py [--rows 1000000] [--features 64] [--repeat 3] [--quick]

Needs the peers in benchmarks/requirements.txt, kept out of dasklr's dependencies:
``python3 -m venv .venv-bench && .venv-bench/bin/pip install -e . -r benchmarks/requirements.txt``.

Every system is given the problem of the README, with n rows and z = Xθ + b:

    F(θ, b) = (1/n)·Σ [log(1+eᶻ) − y·z] + alpha/2·‖θ‖²

and judged by the relative gap (F − F*)/F* that this script computes in NumPy from the
fitted coefficients on the data in memory (no library's own number is used). F* comes from
scikit-learn at tol=1e-12, polished by Newton steps in NumPy. The systems, one after the
other on the same Parquet files and the same ``LocalCluster`` (one thread per worker):
- dasklr: every solver name, ``fit(dasklr.read_parquet(dir, label="y"))``; passes are
  the fitted ``n_passes_``;
- dask-ml: ``dask_ml.linear_model.LogisticRegression`` on X and y sliced from one Dask
  array of ``dask.dataframe.read_parquet(dir)`` (read again every pass, never persisted);
  passes are the Parquet read tasks that the scheduler saw finish, over the partitions;
- scikit-learn: L-BFGS in memory, the fit alone timed (the data read beforehand).
Prints, per system and solver: passes over the data, Parquet reads counted by the
scheduler (in passes), the median seconds of ``--repeat`` fits (dask-ml's including the
construction of its input array), the gap, and the floor: the gap of the exact optimum of
the problem that solver really solves (dask-ml penalises its intercept and its Newton and
gradient descent ignore the penalty, see ``DASK_ML_SOLVERS``).
"""

import argparse
import logging
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pyarrow.parquet as pq
from dask.utils import key_split
from dask_ml.linear_model import LogisticRegression as DaskMLLogisticRegression
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

import dasklr
from dasklr import solvers as dasklr_solvers
from dasklr.synthetic import make_classification, write_parquet_dataset

#: Names of the Parquet read tasks: dasklr's, and dask.dataframe's (fused into the
#: array's first layer, e.g. ``read_parquet-astype-values``).
READ_TASK_PREFIXES = ("dasklr-read", "read_parquet", "read-parquet", "readparquet")

#: dask-ml solvers, their stopping rule at our ``tol`` on max|∇F|, and what they minimise.
#:
#: dask-glm minimises sums: Σ[log(1+eᶻ) − y·z] + lamduh·½‖β‖², β = (θ, b) — the intercept is
#: its last column of ones and IS penalised. Dividing by n gives our F with alpha = lamduh/n,
#: so lamduh = 1/C = n·alpha (checked: at n=5000, alpha=1e-2, dask-ml L-BFGS with
#: C = 1/(n·alpha), normalize=False, tol=1e-10 lands 5e-14 above the NumPy optimum of
#: F + alpha/2·b², while lamduh = alpha lands on the unpenalised optimum). Its default
#: normalize=True standardises the columns first, which moves the penalty onto the
#: standardised coefficients, another problem: so every fit here passes normalize=False.
#: dask-ml drops the penalty for "newton" and "gradient_descent": they minimise the
#: unpenalised loss whatever C is. The resulting floors are printed for each row.
#:   lbfgs: scipy's pgtol on the gradient of the sum, so n·tol (also factr's default 1e7);
#:   newton: max|Δβ| <= tol, quadratic convergence makes 1e-4 ample;
#:   gradient_descent: relative decrease of the sum in one step < tol;
#:   admm: abstol/reltol on the residuals of the consensus (rho = 1, one block per chunk).
DASK_ML_SOLVERS: dict[str, tuple[Callable[[int, float], dict], str]] = {
    "lbfgs": (lambda n, tol: {"tol": n * tol}, "intercept"),
    "newton": (lambda n, tol: {"tol": 1e-4}, "unpenalised"),
    "gradient_descent": (lambda n, tol: {"tol": 1e-9}, "unpenalised"),
    "admm": (lambda n, tol: {"solver_kwargs": {"abstol": 1e-8, "reltol": 1e-6}}, "intercept"),
}
PEERS = ("dask-ml", "sklearn")


@dataclass
class Fit:
    """What one fit left: coefficients, intercept, and passes as the system counts them."""

    coef: np.ndarray
    intercept: float
    passes: float | None = None


@dataclass
class Row:
    system: str
    solver: str
    passes: float | None
    reads: float | None
    seconds: float
    gap: float
    floor: float


class ReadCounter(SchedulerPlugin):
    """Counts Parquet read tasks that finish, by key name; runs inside the scheduler."""

    name = "benchmark-read-counter"

    def __init__(self) -> None:
        self.reads = 0

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if start == "processing" and finish == "memory":
            if key_split(key).startswith(READ_TASK_PREFIXES):
                self.reads += 1


# -- the objective in NumPy ----------------------------------------------------------------


def objective(X, y, coef, intercept, alpha: float, penalise_intercept: bool = False) -> float:
    """F(θ, b) of the module docstring; with ``penalise_intercept`` plus alpha/2·b²."""
    z = X @ coef + intercept
    penalty = coef @ coef + (intercept * intercept if penalise_intercept else 0.0)
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + alpha / 2 * penalty)


def newton_polish(X, y, alpha: float, coef, intercept, *, penalise_intercept=False, steps=30):
    """Newton steps in NumPy from (coef, intercept) until the step stops changing F."""
    n, d = X.shape
    beta = np.append(coef, intercept)
    reg = np.full(d + 1, alpha)
    reg[-1] = alpha if penalise_intercept else 0.0
    for _ in range(steps):
        z = X @ beta[:-1] + beta[-1]
        h = 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z), without overflow
        r = h - y
        grad = np.append(X.T @ r, r.sum()) / n + reg * beta
        s = h * (1.0 - h)
        hess = np.empty((d + 1, d + 1))
        hess[:d, :d] = (X.T * s) @ X
        hess[:d, d] = hess[d, :d] = X.T @ s
        hess[d, d] = s.sum()
        hess = hess / n + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) <= 1e-14 * max(1.0, np.max(np.abs(beta))):
            break
    return beta[:-1], float(beta[-1])


def reference_optimum(X, y, alpha: float) -> tuple[np.ndarray, float]:
    """scikit-learn at tol=1e-12 (C = 1/(n·alpha)), then polished by Newton in NumPy."""
    model = SklearnLogisticRegression(
        C=1.0 / (len(y) * alpha), tol=1e-12, max_iter=10_000, solver="lbfgs"
    ).fit(X, y)
    return newton_polish(X, y, alpha, model.coef_[0], float(model.intercept_[0]))


def floors(X, y, alpha: float, f_star: float, start) -> dict[str, float]:
    """Relative gaps of the exact optima of the problems the peers solve instead."""
    unpenalised = newton_polish(X, y, 0.0, *start)
    with_intercept = newton_polish(X, y, alpha, *start, penalise_intercept=True)
    return {
        "exact": 0.0,
        "intercept": (objective(X, y, *with_intercept, alpha) - f_star) / f_star,
        "unpenalised": (objective(X, y, *unpenalised, alpha) - f_star) / f_star,
    }


# -- the systems ---------------------------------------------------------------------------


def fit_dasklr(path: Path, solver: str, args, client) -> Fit:
    model = dasklr.LogisticRegression(
        alpha=args.alpha, solver=solver, tol=args.tol, max_iter=args.max_iter, client=client
    )
    model.fit(dasklr.read_parquet(path, label="y"))
    return Fit(model.coef_[0], float(model.intercept_[0]), model.n_passes_)


def dask_ml_arrays(path: Path, features: list[str]):
    """X and y sliced from one float64 array of all columns, read from Parquet each pass."""
    frame = dd.read_parquet(path, columns=[*features, "y"])
    values = frame.astype("float64").to_dask_array(lengths=True)
    return values[:, :-1], values[:, -1]


def fit_dask_ml(path: Path, solver: str, args, features: list[str], n: int) -> Fit:
    settings = DASK_ML_SOLVERS[solver][0](n, args.tol)
    solver_kwargs = {"normalize": False, **settings.pop("solver_kwargs", {})}
    model = DaskMLLogisticRegression(
        C=1.0 / (n * args.alpha),
        solver=solver,
        max_iter=args.dask_ml_max_iter,
        solver_kwargs=solver_kwargs,
        **settings,
    )
    X, y = dask_ml_arrays(path, features)
    model.fit(X, y)
    return Fit(np.asarray(model.coef_, dtype=np.float64), float(model.intercept_))


def fit_sklearn(X, y, args) -> Fit:
    model = SklearnLogisticRegression(
        C=1.0 / (len(y) * args.alpha), tol=args.tol, max_iter=10_000, solver="lbfgs"
    ).fit(X, y)
    return Fit(model.coef_[0], float(model.intercept_[0]))


# -- measuring -----------------------------------------------------------------------------


def measure(run: Callable[[], Fit], repeat: int, counter: ReadCounter, n_chunks: int):
    """Median seconds of ``repeat`` runs, the last fit, and its Parquet reads in passes."""
    times = []
    for _ in range(repeat):
        counter.reads = 0
        start = time.perf_counter()
        fit = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), fit, counter.reads / n_chunks


def dasklr_solver_names(selected: list[str] | None) -> list[str]:
    names = list(getattr(dasklr_solvers, "SOLVER_NAMES", dasklr_solvers.SOLVERS))
    return [s for s in names if selected is None or s in selected]


def default_solver(names: list[str]) -> str:
    return "auto" if "auto" in names else names[0]


def read_in_memory(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The whole dataset as float64 NumPy (features in file order) and the feature names."""
    table = pq.read_table(path)
    features = [name for name in table.column_names if name != "y"]
    X = np.empty((table.num_rows, len(features)), dtype=np.float64, order="F")
    for j, name in enumerate(features):
        X[:, j] = table.column(name).to_numpy()
    return X, table.column("y").to_numpy().astype(np.float64), features


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--tol", type=float, default=1e-6, help="on max|∇F| (mean form)")
    parser.add_argument("--max-iter", type=int, default=1000, help="dasklr's max_iter")
    parser.add_argument("--dask-ml-max-iter", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--row-group-rows", type=int, default=32_768)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--solvers", nargs="+", help="dasklr solvers (default: all)")
    parser.add_argument(
        "--peers",
        nargs="*",
        default=[*PEERS, *(f"dask-ml:{s}" for s in DASK_ML_SOLVERS)],
        help="dask-ml (all its solvers), dask-ml:SOLVER, sklearn; none for dasklr alone",
    )
    parser.add_argument("--quick", action="store_true", help="20k rows x 8 features, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.features, args.repeat = 20_000, 8, 1
        args.files, args.row_group_rows = 4, 2_000
    return args


def dask_ml_selection(peers: list[str]) -> list[str]:
    if "dask-ml" in peers:
        return list(DASK_ML_SOLVERS)
    return [s for s in DASK_ML_SOLVERS if f"dask-ml:{s}" in peers]


def print_table(args, n_chunks: int, f_star: float, rows: list[Row]) -> None:
    print(
        f"data: {args.rows} rows x {args.features} float64 features, {args.files} files, "
        f"{n_chunks} dasklr chunks, {args.workers} worker processes, alpha={args.alpha:g}, "
        f"tol={args.tol:g}; F* = {f_star:.15g}; median of {args.repeat}"
    )
    header = f"{'system':14s}{'solver':18s}{'passes':>8s}{'reads':>8s}{'seconds':>10s}"
    print(f"{header}{'gap':>11s}{'floor':>11s}")
    for r in rows:
        passes = "-" if r.passes is None else f"{r.passes:g}"
        reads = "-" if r.reads is None else f"{r.reads:.3g}"
        print(
            f"{r.system:14s}{r.solver:18s}{passes:>8s}{reads:>8s}{r.seconds:10.3f}"
            f"{r.gap:11.2e}{r.floor:11.2e}"
        )
    print(
        "passes: what the system reports (dasklr n_passes_) or, for dask-ml, the reads; "
        "reads: Parquet read tasks finished / chunks (dask-ml's include the one pass "
        "to_dask_array(lengths=True) makes); gap: (F - F*)/F*; floor: gap of the exact "
        "optimum of the problem the solver solves"
    )


def print_ratios(rows: list[Row], default: str) -> None:
    mine = next((r for r in rows if r.system == "dasklr" and r.solver == default), None)
    if mine is None:
        return
    for peer in ("lbfgs", "newton"):
        other = next((r for r in rows if r.system == "dask-ml" and r.solver == peer), None)
        if other is not None:
            print(
                f"dasklr {default} / dask-ml {peer} seconds: "
                f"{mine.seconds / other.seconds:.3f} ({mine.seconds:.3f} / {other.seconds:.3f})"
            )


def main() -> None:
    args = parse_args()
    solvers = dasklr_solver_names(args.solvers)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        X, y, _, _ = make_classification(args.rows, args.features, seed=args.seed)
        write_parquet_dataset(path, X, y, n_files=args.files, row_group_rows=args.row_group_rows)
        del X, y
        X, y, features = read_in_memory(path)
        n = len(y)
        start = reference_optimum(X, y, args.alpha)
        f_star = objective(X, y, *start, args.alpha)
        floor_of = floors(X, y, args.alpha, f_star, start)

        def row(system, solver, measured, floor="exact"):
            seconds, fit, reads = measured
            gap = (objective(X, y, fit.coef, fit.intercept, args.alpha) - f_star) / f_star
            passes = reads if fit.passes is None and system != "sklearn" else fit.passes
            reads = None if system == "sklearn" else reads
            return Row(system, solver, passes, reads, seconds, gap, floor_of[floor])

        rows = []
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
            counter = ReadCounter()
            cluster.scheduler.add_plugin(counter)
            dasklr_chunks = dasklr.read_parquet(path, label="y").X.numblocks[0]
            dd_chunks = dd.read_parquet(path).npartitions
            for solver in solvers:
                run = lambda s=solver: fit_dasklr(path, s, args, client)  # noqa: E731
                rows.append(row("dasklr", solver, measure(run, args.repeat, counter, dasklr_chunks)))
            for solver in dask_ml_selection(args.peers):
                run = lambda s=solver: fit_dask_ml(path, s, args, features, n)  # noqa: E731
                measured = measure(run, args.repeat, counter, dd_chunks)
                rows.append(row("dask-ml", solver, measured, DASK_ML_SOLVERS[solver][1]))
        if "sklearn" in args.peers:
            run = lambda: fit_sklearn(X, y, args)  # noqa: E731
            rows.append(row("sklearn", "lbfgs (memory)", measure(run, args.repeat, counter, 1)))
    print_table(args, dasklr_chunks, f_star, rows)
    print_ratios(rows, default_solver(solvers))


if __name__ == "__main__":
    warnings.simplefilter("ignore")  # ConvergenceWarnings of capped peers; the gap tells
    main()
