"""The driver: owns the client and the loop, and turns passes into solver steps.

1. Connect to a cluster (``cluster.connect``) and describe the chunks once (``ChunkGraph``).
2. The summary pass: label and feature sums that give the log-odds start and F, ∇F (and
   ∇²F for Newton) there, so the first step needs no further pass.
3. Run the solver on ``LogisticObjective.evaluate``, whose every call is one tree
   reduction (one pass); record one history entry per iteration and call the callbacks,
   any of which may stop the fit early by returning True.
4. Warn when the solver stopped before reaching ``tol``.
"""

import functools
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace

import dask.array as da
import numpy as np
from distributed import Client

from dasklr.cache import cached_chunks
from dasklr.checkpoint import Checkpoint, CheckpointPlan, write_checkpoint
from dasklr.checks import check_values
from dasklr.cluster import connect, one_blas_thread
from dasklr.diagnostics import (
    LARGE_STANDARDISED_COEF,
    extreme_sums,
    quasi_separation,
    singular_message,
    warn_singular,
)
from dasklr.errors import ConfigError, ConvergenceWarning, SeparationWarning
from dasklr.folds import held_out, row_offsets
from dasklr.kernels import Probe, merge_sums, probe_sums, summary_sums
from dasklr.metrics import metric_sums
from dasklr.objective import LogisticObjective, Scaling, check_classes
from dasklr.progress import PassProgress
from dasklr.reduction import (
    DEFAULT_SPLIT_EVERY,
    DEFAULT_WORKER_TIMEOUT,
    ChunkGraph,
    tree_reduce,
)
from dasklr.sizing import choose_cache, worker_memory
from dasklr.solvers import SOLVERS, L1Penalty, SolverState, choose_solver

#: A fit without penalty whose loss fell below this share of its start is checked for
#: separable classes (one more pass).
SEPARABLE_LOSS_SHARE = 0.01
#: A held-out loss must fall by this share of the best so far to count as better (early
#: stopping): changes below it are the last digits of a converging fit, not progress.
IMPROVEMENT = 1e-9
#: In-memory NumPy input is cut into chunks of about this many bytes before it is scattered.
NUMPY_CHUNK_BYTES = 64 * 2**20
#: Newton's Hessian is summed over about this many rows, a fixed sample of row blocks
#: (``kernels.sampled_blocks``), when the data has more: the gradient and the loss stay
#: exact, so the fit stops at the same optimum, and a pass costs little more than L-BFGS's.
HESSIAN_SAMPLE_ROWS = 2**17


def hessian_stride(rows: float, sample_rows: int | None = HESSIAN_SAMPLE_ROWS) -> int:
    """Every how many-th block of rows Newton's Hessian sums: 1 (all rows) for data of at
    most ``2 × sample_rows`` rows, for ``sample_rows=None``, or rows unknown (NaN)."""
    if sample_rows is None or math.isnan(rows):
        return 1
    return max(1, int(rows) // int(sample_rows))


@dataclass(frozen=True)
class IterationRecord:
    """One line of ``history_``: the state after an iteration (0 is the starting point)."""

    iteration: int
    objective: float
    grad_norm: float
    step: float
    seconds: float
    passes: int
    #: mean log-loss of the held-out rows at this iteration's point (early stopping only)
    validation_loss: float | None = None


Callback = Callable[[IterationRecord], bool | None]


@dataclass
class EarlyStopping:
    """Hold out ``fraction`` of the rows (``folds.held_out``), and end the fit once their
    mean log-loss has not improved for ``patience`` iterations, keeping the iteration where
    it was lowest. Meant for the first-order solvers; Newton needs few iterations anyway."""

    fraction: float = 0.1
    patience: int = 5
    best: SolverState | None = None
    best_loss: float = float("inf")

    @staticmethod
    def key(probe: Probe) -> bytes:
        """A probe's point, bit for bit: the solver state's coefficients give the same."""
        return np.asarray(probe.coef).tobytes() + np.asarray(probe.intercept).tobytes()

    def loss_at(self, state: SolverState, run_pass: "PassRunner", objective) -> float | None:
        """The held-out loss a pass measured at the state's point (None if none did)."""
        probe = objective._probe(state.params, False, None, np.zeros(0))
        return run_pass.validation.get(self.key(probe))

    def observe(self, state: SolverState, loss: float | None) -> bool:
        """Record one iteration; True when the fit should stop."""
        if loss is not None and (
            self.best is None or loss < self.best_loss - IMPROVEMENT * abs(self.best_loss)
        ):
            self.best, self.best_loss = state, loss
        since = state.iteration - (self.best.iteration if self.best is not None else 0)
        return since >= self.patience

    def worse(self, loss: float | None) -> bool:
        """Whether a converged fit's last held-out loss is above the best by more than
        rounding (``IMPROVEMENT``): then the best iteration is kept instead."""
        if self.best is None or loss is None:
            return False
        return loss > self.best_loss + IMPROVEMENT * abs(self.best_loss)

    def message(self, last: int) -> str:
        how = (
            f"did not improve for {self.patience} iterations after it"
            if last - self.best.iteration >= self.patience
            else f"rose after it, until the fit converged at iteration {last}"
        )
        return (
            f"early stopping: the log-loss of the held-out rows ({self.fraction:g} of them) "
            f"was lowest at iteration {self.best.iteration} ({self.best_loss:.6g}) and {how}; "
            "that iteration is kept"
        )


@dataclass(frozen=True)
class WithHeldOut:
    """A pass's sums on the training rows, and the log-loss sum of the held-out rows."""

    train: object
    loss: float
    weight: float

    def __add__(self, other: "WithHeldOut") -> "WithHeldOut":
        return WithHeldOut(
            self.train + other.train, self.loss + other.loss, self.weight + other.weight
        )


def split_call(kernel: Callable, fraction: float, X, y, sample_weight, offset: int, *shared):
    """Run ``kernel`` on the training rows (held-out rows weigh 0); for a probe, also the
    held-out rows' loss at its point."""
    held = held_out(np.arange(offset, offset + X.shape[0]), fraction)
    base = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    result = kernel(X, y, np.where(held, 0.0, base), *shared)
    if not (shared and isinstance(shared[0], Probe)):
        return result
    probe = shared[0]
    point = Probe(probe.coef, probe.intercept)  # the plain log-loss: no class weights
    rows = probe_sums(X[held], np.asarray(y)[held], base[held], point)
    return WithHeldOut(result, rows.loss, rows.weight)


@dataclass
class FitResult:
    """Coefficients (B, d) and intercepts (B,): B = 1 for binary, K for multinomial."""

    coef: np.ndarray
    intercept: np.ndarray
    converged: bool
    n_iter: int
    n_passes: int
    history: list[dict] = field(default_factory=list)
    message: str = ""
    solver: str = ""
    cache: str = "none"
    rows: int = 0
    #: wall seconds of each pass, in order (the first one decodes)
    pass_seconds: list[float] = field(default_factory=list)
    #: for ``LogisticRegression.summary``: covariance and log-likelihoods (or None)
    inference: dict | None = None


def train(
    X: da.Array | np.ndarray,
    y: da.Array | np.ndarray,
    sample_weight: da.Array | np.ndarray | None = None,
    *,
    alpha: float = 0.0,
    l1_ratio: float = 0.0,
    fit_intercept: bool = True,
    solver: str = "auto",
    tol: float = 1e-6,
    max_iter: int = 100,
    split_every: int = DEFAULT_SPLIT_EVERY,
    client: Client | str | None = None,
    callbacks: Sequence[Callback] = (),
    check_chunks: bool = True,
    init: tuple[np.ndarray, float] | None = None,
    standardize: bool = False,
    class_weight: str | dict | tuple | None = None,
    n_classes: int = 2,
    cache: str = "auto",
    cache_dir: str | None = None,
    progress: PassProgress | None = None,
    checkpoint: CheckpointPlan | None = None,
    resume: Checkpoint | None = None,
    retries: int = 2,
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT,
    feature_names: Sequence[str] | None = None,
    early_stopping: EarlyStopping | None = None,
    hessian_rows: int | None = HESSIAN_SAMPLE_ROWS,
) -> FitResult:
    """Fit the objective of DESIGN.md on (X, y, w) and return the coefficients and history.

    ``check_chunks`` checks the values of every chunk during the first pass; readers that
    already check what they decode (``read_parquet``) turn it off. ``init`` = (coef,
    intercept) starts there (warm start) instead of at the log-odds of the labels.
    ``standardize`` fits (and penalises) the coefficients of standardised features; the
    result is reported in the original units. ``class_weight`` is None, "balanced"
    (W / (K·W_k), counted in the summary pass), a dict {k: c_k} by class index, or a
    tuple of K weights. y holds class indices 0..K−1 (``n_classes`` = K); K = 2 is
    binary logistic regression, K > 2 the multinomial (softmax) model. ``cache`` says
    where decoded chunks live between passes (``dasklr.cache``); ``cache_dir`` is the
    base folder of the disk cache on each worker (default: its temporary folder).
    ``progress`` hears of every chunk as it finishes (``dasklr.progress``).
    ``checkpoint`` writes where the fit stands every few iterations; ``resume`` continues
    from such a checkpoint with the same steps as the uninterrupted fit
    (``dasklr.checkpoint``). A task that fails is retried ``retries`` times (a transient
    read error); a cluster left without workers for ``worker_timeout`` seconds ends the
    fit with a ``ClusterError``. ``feature_names`` name the columns in warnings about
    singular information or quasi-separation (default x0, x1, …). ``early_stopping``
    holds out a share of the rows (by a hash of the row index), fits on the others, and
    ends the fit at the iteration whose held-out log-loss was lowest once it has not
    improved for ``patience`` iterations (``EarlyStopping``). ``hessian_rows``: Newton's
    Hessian sums about this many rows, a fixed sample of row blocks (None: every row).
    """
    n_features = X.shape[1]
    names = list(feature_names or [f"x{j}" for j in range(n_features)])
    n_coefficients = n_features * (1 if n_classes == 2 else n_classes)
    name = choose_solver(solver, n_coefficients, l1=l1_ratio > 0 and alpha > 0)
    spec = SOLVERS[name]
    if early_stopping is not None and (checkpoint is not None or resume is not None):
        raise ConfigError("early stopping does not go with checkpoints or resume")
    if resume is not None and resume.solver != name:
        raise ConfigError(f"the checkpoint is for solver '{resume.solver}', this fit uses '{name}'")
    started = time.perf_counter() - (resume.history[-1]["seconds"] if resume else 0.0)
    with passes_over(
        client,
        (X, y, sample_weight),
        cache=cache,
        cache_dir=cache_dir,
        split_every=split_every,
        check_chunks=check_chunks,
        n_classes=n_classes,
        progress=progress,
        retries=retries,
        worker_timeout=worker_timeout,
        holdout=early_stopping,
    ) as (run_pass, mode):
        summary = None
        if resume is not None:
            run_pass.count = resume.passes
        elif init is None or standardize or class_weight == "balanced":
            full_moments = spec.uses_hessian and init is None and class_weight is None
            stride = hessian_stride(X.shape[0], hessian_rows)
            # the spreads serve standardisation, L-BFGS's first scaling and the check for
            # quasi-separation (alpha = 0); a Newton fit needs none of them
            spreads = standardize or not spec.uses_hessian or alpha == 0 or init is not None
            summary = run_pass(summary_sums, full_moments, n_classes, stride, spreads)
        objective = LogisticObjective(
            functools.partial(run_pass, probe_sums),
            n_features,
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            scaling=_scaling(summary, resume, standardize, fit_intercept),
            class_weight=resume.class_weight
            if resume is not None
            else resolve_class_weight(class_weight, summary, n_classes),
            n_classes=n_classes,
            hessian_stride=hessian_stride(run_pass.rows or X.shape[0], hessian_rows),
        )
        extra: dict = {}
        if resume is not None:
            x0, start = resume.state.params, None
            extra["resume"] = resume.state
        elif init is None:
            x0, start = objective.start(summary)
        else:
            x0, start = objective.from_original(*init), None
        l1 = objective.l1_strength
        if l1 is not None:
            extra["penalty"] = L1Penalty(l1)
        if name == "newton" and objective.hessian_stride > 1:
            extra["reuse_hessian"] = True
        states = spec.run(objective.evaluate, x0, start, tol=tol, max_iter=max_iter, **extra)

        def save(state: SolverState, history: list[dict]) -> None:
            if checkpoint is None or not state.memory or state.iteration % checkpoint.every:
                return
            scaling = objective.scaling if standardize else None
            write_checkpoint(
                checkpoint.path,
                Checkpoint(
                    state=state,
                    passes=run_pass.count,
                    history=history,
                    solver=name,
                    scaling=scaling,
                    class_weight=objective.class_weight,
                    identity=checkpoint.identity,
                ),
            )

        watch = None
        if early_stopping is not None:
            watch = functools.partial(
                early_stopping.loss_at, run_pass=run_pass, objective=objective
            )
        state, history, stopped_early = _follow(
            states,
            run_pass,
            callbacks,
            started,
            save=save,
            resume=resume,
            early_stopping=early_stopping,
            validation_loss=watch,
        )
        separated = alpha == 0 and _separates(run_pass, objective, state, history)
        if n_classes == 2 and alpha == 0 and not separated and summary is not None:
            _warn_quasi_separation(run_pass, objective, state, summary, names)
    if separated:  # converged or not, there is no optimum: say so, and why
        state = replace(state, converged=False)
        warnings.warn(
            f"solver '{name}' stopped after {state.iteration} iterations at coefficients that "
            "classify every training row correctly: the classes are separable, and with "
            "alpha = 0 the loss only approaches 0 as the coefficients grow without bound, so "
            "there is no optimum. Set alpha > 0 (e.g. 1e-4) to regularise",
            SeparationWarning,
            stacklevel=2,
        )
    coef, intercept = objective.to_original(state.params)
    if separated:
        message = "separable classes: no optimum without a penalty (alpha = 0)"
    elif stopped_early and early_stopping is not None:
        message = early_stopping.message(history[-1]["iteration"])
    elif stopped_early:
        message = f"stopped by a callback after {state.iteration} iterations"
    elif state.converged:
        message = ""
    else:
        message = state.message or (
            f"max|gradient| {state.grad_norm:.3g} > tol {tol:g} after {state.iteration} "
            "iterations; raise max_iter or tol"
        )
        warnings.warn(
            f"solver '{name}' did not converge: {message}", ConvergenceWarning, stacklevel=2
        )
    return FitResult(
        coef=np.array(coef),
        intercept=intercept,
        converged=state.converged,
        n_iter=state.iteration,
        n_passes=run_pass.count,
        history=history,
        message=message,
        solver=name,
        cache=mode,
        rows=run_pass.rows,
        pass_seconds=list(run_pass.seconds),
        inference=_inference(objective, state, run_pass, n_classes, l1_ratio * alpha, names),
    )


@contextmanager
def passes_over(
    client,
    arrays: tuple,
    *,
    cache: str,
    cache_dir: str | None,
    split_every: int,
    check_chunks: bool,
    n_classes: int,
    progress,
    retries: int,
    worker_timeout: float,
    holdout: "EarlyStopping | None" = None,
    row_index: bool = False,
) -> Iterator[tuple["PassRunner", str]]:
    """Connect, limit every worker's BLAS to one thread, describe and cache the chunks of
    (X, y, w), and yield the ``PassRunner`` over them with the cache mode chosen.

    Kernels get each chunk's first row index after (X, y, w) with ``row_index`` or
    ``holdout`` (whose rows they drop).
    """
    with connect(client) as active, one_blas_thread(active):
        arrays, scattered = _on_cluster(active, *arrays)
        offsets = row_offsets(arrays[0]) if holdout is not None or row_index else ()
        if scattered:
            mode = "none"
        else:
            mode = choose_cache(cache, worker_memory(active), _decoded_bytes(arrays))
        graph = ChunkGraph.from_arrays(*arrays)
        with cached_chunks(active, graph, mode, cache_dir, retries=retries) as chunks:
            yield (
                PassRunner(
                    active,
                    chunks,
                    split_every=split_every,
                    check_first=check_chunks,
                    n_classes=n_classes,
                    progress=progress,
                    retries=retries,
                    worker_timeout=worker_timeout,
                    holdout=holdout,
                    chunk_args=offsets,
                ),
                mode,
            )


class PassRunner:
    """Runs one pass (a tree reduction of a kernel over every chunk) and counts passes.

    With ``check_first``, the first pass also checks every chunk's values.
    """

    def __init__(
        self,
        client: Client,
        chunks: ChunkGraph,
        *,
        split_every: int,
        check_first: bool,
        n_classes: int = 2,
        progress: PassProgress | None = None,
        retries: int = 0,
        worker_timeout: float = DEFAULT_WORKER_TIMEOUT,
        chunk_args: Sequence[tuple] = (),
        holdout: "EarlyStopping | None" = None,
    ):
        self.progress = progress
        #: with early stopping, kernels see the training rows only, and every probe's
        #: held-out log-loss is kept here by its coefficients (``EarlyStopping.key``)
        self.holdout = holdout
        self.validation: dict[bytes, float] = {}
        #: per-chunk arguments that follow (X, y, w) in every kernel call (``tree_reduce``)
        self.chunk_args = chunk_args
        self.retries = retries
        self.worker_timeout = worker_timeout
        #: rows, Σw and Σw·y of the last pass: what was read, after on_invalid="drop"
        self.rows = 0
        self.weight = 0.0
        self.weighted_labels = 0.0
        self.client = client
        self.chunks = chunks
        self.split_every = split_every
        self.check_first = check_first
        self.n_classes = n_classes
        self.count = 0
        #: wall seconds of every pass run, in order
        self.seconds: list[float] = []

    def __call__(self, kernel: Callable, *shared):
        if self.check_first and self.count == 0:
            kernel = functools.partial(checked_call, kernel, self.n_classes)
        if self.holdout is not None:
            kernel = functools.partial(split_call, kernel, self.holdout.fraction)
        self.count += 1
        started = time.perf_counter()
        sums = tree_reduce(
            self.client,
            self.chunks,
            kernel,
            shared,
            merge_sums,
            split_every=self.split_every,
            progress=self.progress,
            retries=self.retries,
            worker_timeout=self.worker_timeout,
            chunk_args=self.chunk_args,
        )
        self.seconds.append(time.perf_counter() - started)
        if isinstance(sums, WithHeldOut):
            self.validation[EarlyStopping.key(shared[0])] = sums.loss / sums.weight
            sums = sums.train
        self.rows = getattr(sums, "rows", self.rows)
        if hasattr(sums, "weighted_labels"):
            self.weight, self.weighted_labels = sums.weight, sums.weighted_labels
        return sums


def _follow(
    states: Iterator[SolverState],
    run_pass: PassRunner,
    callbacks: Sequence[Callback],
    started,
    *,
    save: Callable[[SolverState, list[dict]], None] | None = None,
    resume: Checkpoint | None = None,
    early_stopping: EarlyStopping | None = None,
    validation_loss: Callable[[SolverState], float | None] | None = None,
) -> tuple[SolverState, list[dict], bool]:
    """Record every state the solver yields, checkpoint (``save``), and call the
    callbacks; True ones stop it. A resumed fit continues its checkpoint's history.

    With ``early_stopping``, each record carries the held-out loss, and the state
    returned is the one where it was lowest (stopped early, unless that is the last)."""
    history: list[dict] = [] if resume is None else list(resume.history)
    state = None if resume is None else resume.state
    for state in states:
        loss = validation_loss(state) if validation_loss is not None else None
        record = IterationRecord(
            iteration=state.iteration,
            objective=state.objective,
            grad_norm=state.grad_norm,
            step=state.step,
            seconds=time.perf_counter() - started,
            passes=run_pass.count,
            validation_loss=loss,
        )
        history.append(asdict(record))
        if save is not None:
            save(state, history)
        stop = any([callback(record) for callback in callbacks])  # every callback sees it
        if early_stopping is not None and early_stopping.observe(state, loss):
            return early_stopping.best, history, True
        if stop:
            return state, history, not state.converged
    assert state is not None  # a solver always yields its starting point
    if early_stopping is not None and early_stopping.worse(history[-1]["validation_loss"]):
        return early_stopping.best, history, True  # converged past the best held-out loss
    return state, history, False


def _inference(objective, state: SolverState, run_pass, n_classes: int, l1: float, names=None):
    """What ``LogisticRegression.summary`` needs of a converged binary fit without L1:
    log-likelihoods, the penalty's curvature per coefficient (for the bread of a later
    covariance pass) and, from Newton's last Hessian, the covariance of [θ, b] (None for
    other solvers: ``summary`` then takes one pass). None for other fits.

    An unpenalised Hessian that is singular (a constant, duplicated or collinear feature)
    gives a ``SingularInformationWarning`` naming the features, and no covariance.
    """
    if n_classes != 2 or l1 > 0 or not state.converged:
        return None
    d, m = objective.n_features, objective.block_size
    s, mu = objective.scaling.inverse_scale, objective.scaling.mean
    W, Y = run_pass.weight, float(run_pass.weighted_labels)
    J = np.zeros((d + 1, m))  # ∂(θ, b)/∂(solver parameters), as in LogisticObjective
    J[np.arange(d), np.arange(d)] = s
    J[d, :d] = -s * mu
    if objective.fit_intercept:
        J[d, d] = 1.0
    # a Hessian from a sample of the rows is not the information matrix of all of them
    hessian = state.memory.get("hessian") if objective.hessian_stride == 1 else None
    cov, singular = None, None
    if hessian is not None and objective.l2 == 0:
        problems = warn_singular(
            _original_information(hessian, J[:m, :m]),
            names or [f"x{j}" for j in range(d)],
            fit_intercept=objective.fit_intercept,
            stacklevel=4,
        )
        singular = singular_message(problems) if problems else None
    if hessian is not None and singular is None:
        cov = J @ np.linalg.inv(W * hessian) @ J.T
    theta = state.params[:d]
    llf = -W * (state.objective - 0.5 * objective.l2 * float(theta @ theta))
    p = Y / W if objective.fit_intercept else 0.5
    llnull = Y * np.log(p) + (W - Y) * np.log1p(-p)
    # θ = θ̃·s, so ½·l2·‖θ̃‖² curves by l2/s² in θ (a constant feature, s = 0, is fixed at 0)
    penalty = np.where(s > 0, objective.l2 / np.where(s > 0, s, 1.0) ** 2, 0.0)
    return {
        "cov": cov,
        "llf": float(llf),
        "llnull": float(llnull),
        "nobs": run_pass.rows,
        "penalty": penalty,
        "singular": singular,
    }


def _original_information(hessian: np.ndarray, J: np.ndarray) -> np.ndarray:
    """J⁻ᵀ·H·J⁻¹: the Hessian over the original coefficients, so relations between features
    are stated in their own units (over the solver's, when a constant feature makes J
    singular under ``standardize``)."""
    try:
        inverse = np.linalg.inv(J)
    except np.linalg.LinAlgError:
        return hessian
    return inverse.T @ hessian @ inverse


def _warn_quasi_separation(run_pass, objective, state, summary, names) -> None:
    """Warn, naming the features, when coefficients run away and some rows sit at a
    fitted probability of 0 or 1. The pass that counts those rows runs only when some
    |coefficient × standard deviation| exceeds ``LARGE_STANDARDISED_COEF``."""
    coef, intercept = objective.to_original(state.params)
    std = np.sqrt(np.maximum(summary.spread, 0.0) / summary.weight)
    if not np.any(np.abs(coef[0] * std) > LARGE_STANDARDISED_COEF):
        return
    certain, total = run_pass(extreme_sums, coef[0], float(intercept[0]))
    message = quasi_separation(
        coef[0], float(intercept[0]), std, names, extreme_share=certain / total
    )
    if message is not None:
        warnings.warn(message, SeparationWarning, stacklevel=3)


def _separates(run_pass: PassRunner, objective, state: SolverState, history) -> bool:
    """Whether the final coefficients classify every row correctly (one more pass, run only
    when the loss fell below ``SEPARABLE_LOSS_SHARE`` of its start)."""
    if not state.objective < SEPARABLE_LOSS_SHARE * history[0]["objective"]:
        return False
    coef, intercept = objective.to_original(state.params)
    sums = run_pass(metric_sums, coef, intercept, 0.5, False)
    return sums.correct >= sums.weight


def _scaling(summary, resume, standardize: bool, fit_intercept: bool) -> Scaling | None:
    if resume is not None:
        return resume.scaling
    return Scaling.from_summary(summary, center=fit_intercept) if standardize else None


def resolve_class_weight(class_weight, summary, n_classes: int = 2) -> tuple[float, ...] | None:
    """(c₀, …, c_K−1) from None, a tuple, a dict by class index (missing classes weigh
    1), or "balanced": W / (K·W_k).

    W_k is the class's total sample weight (its row count without weights), as
    scikit-learn's ``compute_class_weight`` counts it when given sample weights.
    """
    if class_weight is None:
        return None
    if class_weight == "balanced":
        totals = np.asarray(summary.weighted_labels, dtype=np.float64)
        if n_classes == 2:
            totals = np.array([summary.weight - float(totals), float(totals)])
        check_classes(summary.weight, totals)
        return tuple(float(summary.weight / (n_classes * total)) for total in totals)
    if isinstance(class_weight, dict):
        return tuple(float(class_weight.get(k, 1.0)) for k in range(n_classes))
    return tuple(float(c) for c in class_weight)


def checked_call(kernel: Callable, n_classes: int, X, y, sample_weight, *shared):
    """Check a chunk's values, then run ``kernel`` on it (first pass over array input)."""
    names = [f"column {j}" for j in range(X.shape[1])]
    check_values(
        X,
        y,
        sample_weight,
        feature_names=names,
        where="a chunk of the input arrays",
        n_classes=n_classes,
    )
    return kernel(X, y, sample_weight, *shared)


def _decoded_bytes(arrays) -> int:
    return sum(a.nbytes for a in arrays if a is not None)


def _on_cluster(client: Client, X, y, sample_weight):
    """Dask arrays stay as they are (lazy, out-of-core); NumPy arrays are scattered once.

    Returns the arrays and whether they were scattered (then they are in memory already).
    """
    arrays = [X, y] + ([sample_weight] if sample_weight is not None else [])
    if all(isinstance(a, da.Array) for a in arrays):
        return (X, y, sample_weight), False
    rows = max(1, NUMPY_CHUNK_BYTES // (8 * max(1, X.shape[1])))
    converted = [
        a if isinstance(a, da.Array) else da.from_array(np.asarray(a), chunks=(rows, *a.shape[1:]))
        for a in arrays
    ]
    converted = client.persist(converted)
    return (converted[0], converted[1], converted[2] if sample_weight is not None else None), True
