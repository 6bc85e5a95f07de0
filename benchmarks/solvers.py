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
- dasklr: every solver name, ``fit(dasklr.read_parquet(dir, label="y"))`` with
  ``cache="none"`` unless ``--cache`` says otherwise (so that, like dask-ml's, every pass
  decodes the Parquet files again); passes are the fitted ``n_passes_``;
- dask-ml: ``dask_ml.linear_model.LogisticRegression`` on X and y sliced from one Dask
  array of ``dask.dataframe.read_parquet(dir)`` (read again every pass, never persisted);
  passes are the Parquet read tasks that the scheduler saw finish, over the partitions;
- scikit-learn: L-BFGS in memory, the fit alone timed (the data read beforehand).
Prints, per system and solver: passes over the data, Parquet reads counted by the
scheduler (in passes), the median seconds of ``--repeat`` fits (dask-ml's including the
construction of its input array), the gap, and "own opt": the gap of the exact optimum of
the problem that solver really solves (dask-ml penalises its intercept, and its Newton and
gradient descent ignore the penalty: see ``DASK_ML_SOLVERS``); then the seconds of
dasklr's default solver over dask-ml's L-BFGS and Newton. dask-ml's gradient descent and
ADMM are capped at a few iterations (hours otherwise); ``--peers`` picks which peers run.
"""

import argparse
import logging
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pyarrow.parquet as pq
from dask._task_spec import Alias, GraphNode
from dask_ml.linear_model import LogisticRegression as DaskMLLogisticRegression
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

import dasklr
from dasklr import solvers as dasklr_solvers
from dasklr.data.synthetic import make_classification, write_parquet_dataset

#: Key names of the Parquet read tasks: dasklr's (``dasklr-read-…``) and dask.dataframe's
#: (``read_parquet-…``, or ``read_parquet-astype-values-…`` once fused with what follows).
READ_TASK_PREFIXES = ("dasklr-read", "read_parquet", "read-parquet", "readparquet")


@dataclass(frozen=True)
class PeerSolver:
    """A dask-ml solver: its arguments at our ``tol`` and n, its iteration cap, its problem."""

    settings: Callable[[int, float], dict]
    max_iter: int
    solves: str  # the problem it minimises: a key of ``PROBLEMS``


#: dask-glm minimises sums: Σ[log(1+eᶻ) − y·z] + lamduh·½‖β‖², β = (θ, b) — the intercept is
#: its last column of ones and IS penalised. Dividing by n gives our F with alpha = lamduh/n,
#: so lamduh = 1/C = n·alpha (checked: at n=5000, alpha=1e-2, dask-ml L-BFGS with
#: C = 1/(n·alpha), normalize=False, tol=1e-10 lands 5e-14 above the NumPy optimum of
#: F + alpha/2·b², while lamduh = alpha lands on the unpenalised optimum). Its default
#: normalize=True standardises the columns first, which moves the penalty onto the
#: standardised coefficients, another problem: so every fit here passes normalize=False.
#: dask-ml drops the penalty for "newton" and "gradient_descent": they minimise the
#: unpenalised loss whatever C is. Stopping rules, set to stop near a 1e-6 gap:
#:   lbfgs: scipy's pgtol on the gradient of the sum, so n·tol (and scipy's factr=1e7);
#:   newton: max|Δβ| <= tol; quadratic convergence makes 1e-4 ample;
#:   gradient_descent: relative decrease of the sum in one step < tol;
#:   admm: abstol/reltol on the consensus residuals (rho = 1, one block per chunk); each
#:     iteration runs up to 200 scipy L-BFGS steps on every chunk, so it is capped hard.
DASK_ML_SOLVERS = {
    "lbfgs": PeerSolver(lambda n, tol: {"tol": n * tol}, 100, "intercept"),
    "newton": PeerSolver(lambda n, tol: {"tol": 1e-4}, 50, "unpenalised"),
    "gradient_descent": PeerSolver(lambda n, tol: {"tol": 1e-9}, 10, "unpenalised"),
    "admm": PeerSolver(lambda n, tol: {"abstol": 1e-8, "reltol": 1e-6}, 5, "intercept"),
}
#: The problems that dask-ml's solvers minimise instead of F.
PROBLEMS = {"intercept": "penalises the intercept too", "unpenalised": "ignores alpha"}
PEERS = ("dask-ml", "sklearn")
#: Newton steps of the NumPy reference, at most (1 or 2 are needed from scikit-learn's).
NEWTON_MAX_STEPS = 20


@dataclass
class Fit:
    """What one fit left: coefficients, intercept, and what the system says of itself."""

    coef: np.ndarray
    intercept: float
    passes: int | None = None
    note: str = ""


@dataclass
class Row:
    system: str
    solver: str
    passes: float | None
    reads: float | None
    seconds: float
    gap: float
    own_optimum: float
    note: str


class ReadCounter(SchedulerPlugin):
    """Counts the finished tasks that decode a Parquet chunk; runs inside the scheduler.

    Graph optimisation renames and fuses tasks (dask.array fuses a read into the chain that
    consumes it, under a new key) and adds aliases of keys, so neither key names nor task
    counts alone tell: a finished task counts once when its spec, fused subgraph included,
    holds a task of a Parquet read layer (``READ_TASK_PREFIXES``); aliases do no work.
    """

    name = "benchmark-read-counter"

    def __init__(self, scheduler) -> None:
        self.scheduler = scheduler
        self.reads = 0

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if start == "processing" and finish == "memory":
            task = self.scheduler.tasks.get(key)
            self.reads += reads_parquet(getattr(task, "run_spec", None))


def reads_parquet(spec) -> bool:
    """Whether a task spec (dask's ``GraphNode``) decodes Parquet, searching fused subgraphs."""
    stack = [spec]
    while stack:
        item = stack.pop()
        if isinstance(item, Alias):
            continue
        if isinstance(item, GraphNode):
            key = item.key[0] if isinstance(item.key, tuple) else str(item.key)
            if key.startswith(READ_TASK_PREFIXES):
                return True
            stack.extend(getattr(item, "args", ()))
            stack.extend(getattr(item, "kwargs", {}).values())
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


# -- the objective in NumPy ----------------------------------------------------------------


def objective(X, y, coef, intercept, alpha: float, penalise_intercept: bool = False) -> float:
    """F(θ, b) of the module docstring; with ``penalise_intercept`` plus alpha/2·b²."""
    z = X @ coef + intercept
    penalty = coef @ coef + (intercept * intercept if penalise_intercept else 0.0)
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + alpha / 2 * penalty)


def newton_polish(X, y, alpha: float, coef, intercept, *, penalise_intercept=False):
    """Newton steps in NumPy from (coef, intercept) until F cannot drop by 1e-16 any more."""
    n, d = X.shape
    beta = np.append(coef, intercept)
    reg = np.full(d + 1, alpha)
    reg[-1] = alpha if penalise_intercept else 0.0
    for _ in range(NEWTON_MAX_STEPS):
        z = X @ beta[:-1] + beta[-1]
        h = 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z), without overflow
        r = h - y
        grad = np.append(X.T @ r, r.sum()) / n + reg * beta
        s = h * (1.0 - h)
        hess = np.empty((d + 1, d + 1))
        hess[:d, :d] = (X.T * s) @ X
        hess[:d, d] = hess[d, :d] = X.T @ s
        hess[d, d] = s.sum()
        step = np.linalg.solve(hess / n + np.diag(reg), grad)
        beta -= step
        if grad @ step <= 2e-16:  # F − F_opt ≈ (gᵀH⁻¹g)/2 before this step, its square after
            break
    return beta[:-1], float(beta[-1])


@dataclass
class Reference:
    """The data in memory, F* and the optima of the peers' problems: what judges every fit."""

    X: np.ndarray
    y: np.ndarray
    alpha: float
    f_star: float
    own_optimum: dict[str, float]  # problem → relative gap of its exact optimum

    @classmethod
    def compute(cls, X: np.ndarray, y: np.ndarray, alpha: float) -> "Reference":
        """scikit-learn at tol=1e-12 (C = 1/(n·alpha)), then polished by Newton in NumPy."""
        sklearn = SklearnLogisticRegression(
            C=1.0 / (len(y) * alpha), tol=1e-12, max_iter=10_000, solver="lbfgs"
        ).fit(X, y)
        start = sklearn.coef_[0], float(sklearn.intercept_[0])
        f_star = objective(X, y, *newton_polish(X, y, alpha, *start), alpha)
        reference = cls(X, y, alpha, f_star, {})
        optima = {
            "intercept": newton_polish(X, y, alpha, *start, penalise_intercept=True),
            "unpenalised": newton_polish(X, y, 0.0, *start),
        }
        reference.own_optimum = {name: reference.gap(*opt) for name, opt in optima.items()}
        return reference

    def gap(self, coef: np.ndarray, intercept: float) -> float:
        """(F − F*)/F*, computed here from the coefficients."""
        f = objective(self.X, self.y, coef, intercept, self.alpha)
        return (f - self.f_star) / self.f_star


# -- the systems ---------------------------------------------------------------------------


def fit_dasklr(path: Path, solver: str, args: argparse.Namespace, client) -> Fit:
    model = dasklr.LogisticRegression(
        alpha=args.alpha,
        solver=solver,
        tol=args.tol,
        max_iter=args.max_iter,
        cache=args.cache,
        client=client,
    )
    model.fit(dasklr.read_parquet(path, label="y"))
    note = f"cache {model.cache_}"
    if not model.converged_:
        note += f"; stopped at max_iter={args.max_iter}"
    return Fit(model.coef_[0], float(model.intercept_[0]), model.n_passes_, note)


def dask_ml_frame(path: Path, features: list[str]):
    return dd.read_parquet(path, columns=[*features, "y"])


def dask_ml_arrays(path: Path, features: list[str]):
    """X and y sliced from one float64 array of all columns, read from Parquet each pass.

    (With dask 2026.8, ``frame["y"].to_dask_array(lengths=True)`` fails, hence one array.)
    """
    values = dask_ml_frame(path, features).astype("float64").to_dask_array(lengths=True)
    return values[:, :-1], values[:, -1]


def fit_dask_ml(path: Path, solver: str, args: argparse.Namespace, features, n: int) -> Fit:
    peer = DASK_ML_SOLVERS[solver]
    settings = {"normalize": False, **peer.settings(n, args.tol)}
    max_iter = args.dask_ml_max_iter or peer.max_iter
    model = DaskMLLogisticRegression(
        C=1.0 / (n * args.alpha),
        solver=solver,
        tol=settings.pop("tol", args.tol),  # admm ignores it: abstol/reltol instead
        max_iter=max_iter,
        solver_kwargs=settings,
    )
    X, y = dask_ml_arrays(path, features)
    model.fit(X, y)
    coef = np.asarray(model.coef_, dtype=np.float64)
    return Fit(coef, float(model.intercept_), note=f"max_iter={max_iter}; {PROBLEMS[peer.solves]}")


def fit_sklearn(X: np.ndarray, y: np.ndarray, args: argparse.Namespace) -> Fit:
    model = SklearnLogisticRegression(
        C=1.0 / (len(y) * args.alpha), tol=args.tol, max_iter=10_000, solver="lbfgs"
    ).fit(X, y)
    return Fit(model.coef_[0], float(model.intercept_[0]), note=f"n_iter={model.n_iter_[0]}")


# -- measuring -----------------------------------------------------------------------------


def measure(run: Callable[[], Fit], repeat: int, counter: ReadCounter | None = None):
    """Median seconds of ``repeat`` runs, the last fit, and the read tasks it finished."""
    times = []
    for _ in range(repeat):
        if counter is not None:
            counter.reads = 0
        start = time.perf_counter()
        fit = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), fit, None if counter is None else counter.reads


def run_on_cluster(path: Path, args, reference: Reference, features: list[str]) -> list[Row]:
    """dasklr's solvers, then dask-ml's, on one LocalCluster; a row for each."""
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
        counter = ReadCounter(cluster.scheduler)
        cluster.scheduler.add_plugin(counter)
        client.run(silence_warnings)
        chunks = dasklr.read_parquet(path, label="y").X.numblocks[0]
        for solver in dasklr_solver_names(args.solvers):
            run = partial(fit_dasklr, path, solver, args, client)
            seconds, fit, reads = measure(run, args.repeat, counter)
            rows.append(make_row("dasklr", solver, seconds, fit, reads / chunks, reference))
        partitions = dask_ml_frame(path, features).npartitions
        for solver in dask_ml_selection(args.peers):
            run = partial(fit_dask_ml, path, solver, args, features, len(reference.y))
            seconds, fit, reads = measure(run, args.repeat, counter)
            fit.passes = reads / partitions
            own = reference.own_optimum[DASK_ML_SOLVERS[solver].solves]
            rows.append(make_row("dask-ml", solver, seconds, fit, fit.passes, reference, own))
    return rows


def make_row(system, solver, seconds, fit: Fit, reads, reference: Reference, own=0.0) -> Row:
    gap = reference.gap(fit.coef, fit.intercept)
    return Row(system, solver, fit.passes, reads, seconds, gap, own, fit.note)


# -- the command ---------------------------------------------------------------------------


def dasklr_solver_names(selected: list[str] | None) -> list[str]:
    """Every ``solver=`` name dasklr accepts ("auto" included where it exists), or those chosen."""
    names = list(getattr(dasklr_solvers, "SOLVER_NAMES", dasklr_solvers.SOLVERS))
    return [s for s in names if selected is None or s in selected]


def dask_ml_selection(peers: list[str]) -> list[str]:
    if "dask-ml" in peers:
        return list(DASK_ML_SOLVERS)
    return [s for s in DASK_ML_SOLVERS if f"dask-ml:{s}" in peers]


def read_in_memory(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The whole dataset as float64 NumPy (features in file order) and the feature names."""
    table = pq.read_table(path)
    features = [name for name in table.column_names if name != "y"]
    X = np.empty((table.num_rows, len(features)), dtype=np.float64, order="F")
    for j, name in enumerate(features):
        X[:, j] = table.column(name).to_numpy()
    return X, table.column("y").to_numpy().astype(np.float64), features


def silence_warnings() -> None:
    """Capped solvers warn, and dask-glm's σ overflows exp() harmlessly: the gap tells all."""
    warnings.simplefilter("ignore")


def parse_args() -> argparse.Namespace:
    """The command line; ``--quick`` overrides the size for a smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--tol", type=float, default=1e-6, help="on max|∇F|, the mean form")
    parser.add_argument("--max-iter", type=int, default=1000, help="dasklr's max_iter")
    parser.add_argument(
        "--dask-ml-max-iter", type=int, help="cap for every dask-ml solver (default: its own)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--row-group-rows", type=int, default=32_768)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--cache",
        default="none",
        help="dasklr's cache: none (default: streamed from Parquet every pass, as dask-ml "
        "is), auto, memory or disk",
    )
    parser.add_argument("--solvers", nargs="+", help="dasklr solvers (default: all)")
    parser.add_argument(
        "--peers",
        nargs="*",
        default=list(PEERS),
        help="dask-ml (all its solvers), dask-ml:SOLVER, sklearn; none: dasklr alone",
    )
    parser.add_argument("--quick", action="store_true", help="20k rows x 8 features, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.features, args.repeat = 20_000, 8, 1
        args.files, args.row_group_rows = 4, 2_000
    return args


def print_table(args: argparse.Namespace, f_star: float, rows: list[Row]) -> None:
    print(
        f"data: {args.rows} rows x {args.features} float64 features, {args.files} files of "
        f"{args.row_group_rows}-row row groups; {args.workers} worker processes; "
        f"alpha={args.alpha:g}, tol={args.tol:g}; F* = {f_star:.15g}; median of {args.repeat}"
    )
    print(
        f"{'system':9s}{'solver':17s}{'passes':>7s}{'reads':>7s}{'seconds':>9s}"
        f"{'gap':>10s}{'own opt':>10s}  note"
    )
    for r in rows:
        passes = "-" if r.passes is None else f"{r.passes:.3g}"
        reads = "-" if r.reads is None else f"{r.reads:.3g}"
        print(
            f"{r.system:9s}{r.solver:17s}{passes:>7s}{reads:>7s}{r.seconds:9.3f}"
            f"{r.gap:10.2e}{r.own_optimum:10.2e}  {r.note}"
        )
    print(
        "passes: dasklr's n_passes_, dask-ml's reads; reads: Parquet read tasks finished / "
        "chunks (dask-ml's include one pass for to_dask_array(lengths=True)); gap: (F - F*)/F*; "
        "own opt: the gap of the exact optimum of the problem the solver solves"
    )


def print_ratios(rows: list[Row]) -> None:
    """Seconds of dasklr's default solver over dask-ml's L-BFGS and Newton."""
    names = dasklr_solver_names(None)
    default = "auto" if "auto" in names else names[0]
    mine = next((r for r in rows if r.system == "dasklr" and r.solver == default), None)
    for peer in ("lbfgs", "newton"):
        other = next((r for r in rows if r.system == "dask-ml" and r.solver == peer), None)
        if mine is not None and other is not None:
            print(
                f"dasklr {default} / dask-ml {peer}: {mine.seconds / other.seconds:.3f} "
                f"({mine.seconds:.3f} s / {other.seconds:.3f} s)"
            )


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        X, y, _, _ = make_classification(args.rows, args.features, seed=args.seed)
        write_parquet_dataset(path, X, y, n_files=args.files, row_group_rows=args.row_group_rows)
        del X, y
        X, y, features = read_in_memory(path)
        reference = Reference.compute(X, y, args.alpha)
        rows = run_on_cluster(path, args, reference, features)
    if "sklearn" in args.peers:
        seconds, fit, _ = measure(partial(fit_sklearn, X, y, args), args.repeat)
        rows.append(make_row("sklearn", "lbfgs in memory", seconds, fit, None, reference))
    print_table(args, reference.f_star, rows)
    print_ratios(rows)


if __name__ == "__main__":
    silence_warnings()
    main()
