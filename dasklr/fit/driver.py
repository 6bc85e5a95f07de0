"""The driver: turns passes into solver steps for one fit.

1. Connect and describe the chunks once (``runner.passes_over``).
2. The summary pass: label and feature sums that give the log-odds start and F, ∇F (and
   ∇²F for Newton) there, so the first step needs no further pass.
3. Run the solver (ask and tell, ``lockstep.run_lockstep``): each request it yields is
   answered by one pass; each state it reaches is recorded, checkpointed and shown to
   the callbacks, any of which may stop the fit early by returning True.
4. Check for separable classes (alpha = 0), and warn when the solver stopped before
   reaching ``tol``.
"""

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import dask.array as da
import numpy as np
from distributed import Client

from dasklr.errors import ConfigError, ConvergenceWarning, SeparationWarning
from dasklr.fit.checkpoint import Checkpoint, CheckpointPlan, write_checkpoint
from dasklr.fit.early_stopping import EarlyStopping
from dasklr.fit.lockstep import Answer, Member, run_lockstep
from dasklr.fit.objective import LogisticObjective, PenaltyShape, Scaling, check_classes
from dasklr.fit.statistics import fit_statistics
from dasklr.kernels.design import Layout
from dasklr.kernels.logistic import probe_sums
from dasklr.kernels.metrics import metric_sums
from dasklr.kernels.separation import extreme_sums
from dasklr.kernels.summary import SummarySums, summary_sums
from dasklr.options import FitOptions
from dasklr.passes.progress import PassProgress
from dasklr.passes.runner import PassOptions, PassRunner, passes_over
from dasklr.solvers.protocol import Request
from dasklr.solvers.registry import SOLVERS, SolverSpec, choose_solver
from dasklr.solvers.state import Solver, SolverState
from dasklr.stats.diagnostics import LARGE_STANDARDISED_COEF, quasi_separation
from dasklr.stats.inference import FitStatistics

#: A fit without penalty whose loss fell below this share of its start is checked for
#: separable classes (one more pass).
SEPARABLE_LOSS_SHARE = 0.01
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

    @classmethod
    def of(cls, state: SolverState, seconds: float, passes: int, validation_loss=None):
        return cls(
            state.iteration,
            state.objective,
            state.grad_norm,
            state.step,
            seconds,
            passes,
            validation_loss,
        )


Callback = Callable[[IterationRecord], bool | None]


@dataclass
class FitResult:
    """Coefficients (B, d) and intercepts (B,): B = 1 for binary, K for multinomial."""

    coef: np.ndarray
    intercept: np.ndarray
    converged: bool
    n_iter: int
    n_passes: int
    history: list[IterationRecord] = field(default_factory=list)
    message: str = ""
    solver: str = ""
    cache: str = "none"
    rows: int = 0
    #: wall seconds of each pass, in order (the first one decodes)
    pass_seconds: list[float] = field(default_factory=list)
    #: for ``LogisticRegression.summary`` (None where it has none)
    statistics: FitStatistics | None = None


def train(
    X: da.Array | np.ndarray,
    y: da.Array | np.ndarray,
    sample_weight: da.Array | np.ndarray | None = None,
    options: FitOptions | None = None,
    *,
    n_classes: int = 2,
    client: Client | str | None = None,
    callbacks: Sequence[Callback] = (),
    check_chunks: bool = True,
    init: tuple[np.ndarray, np.ndarray] | None = None,
    feature_names: Sequence[str] | None = None,
    progress: PassProgress | None = None,
    checkpoint: CheckpointPlan | None = None,
    resume: Checkpoint | None = None,
    hessian_rows: int | None = HESSIAN_SAMPLE_ROWS,
    penalty: PenaltyShape | None = None,
    layout: Layout | None = None,
) -> FitResult:
    """Fit the objective of ``options`` on (X, y, w); return the coefficients and history.

    y holds class indices 0..K−1 (``n_classes`` = K; K = 2 is binary logistic
    regression, K > 2 the multinomial model); ``options.class_weight`` is None,
    "balanced" or a tuple of K weights by class index. ``check_chunks`` checks the
    values of every chunk during the first pass (``read_parquet`` checks what it decodes
    itself). ``init`` = (coef, intercept) starts there (warm start) instead of at the
    log-odds of the labels. ``callbacks`` see every iteration's ``IterationRecord``;
    ``progress`` hears of every chunk. ``checkpoint`` writes where the fit stands every
    few iterations; ``resume`` continues from such a checkpoint with the same steps as the
    uninterrupted fit (``dasklr.fit.checkpoint``). ``feature_names`` name the columns in
    warnings. ``hessian_rows``: Newton's Hessian sums about this many rows, a fixed
    sample of row blocks (None: every row). ``penalty`` shapes the penalty per feature
    (factors on alpha, a prior model: ``PenaltyShape``). ``layout``: X's last columns
    hold level codes of categorical columns (``read_parquet(categorical=...)``), one
    coefficient per coded level.

    The four steps of a fit are numbered below and kept in this one function, so that
    the fit reads in one place; each step's detail is a helper.
    """
    # 1. the solver, early stopping and how passes run, from the options
    options = options or FitOptions()
    width = X.shape[1] if layout is None else layout.width
    names = list(feature_names or [f"x{j}" for j in range(width)])
    n_coefficients = width * (1 if n_classes == 2 else n_classes)
    name = choose_solver(options.solver, n_coefficients, l1=options.l1 > 0)
    _check_resume(options, name, checkpoint, resume)
    early = None
    if options.early_stopping:
        early = EarlyStopping(options.validation_fraction, options.n_iter_no_change)
    started = time.perf_counter() - (resume.history[-1]["seconds"] if resume else 0.0)
    runs = PassOptions.of(
        options, progress=progress, check_chunks=check_chunks, n_classes=n_classes
    )
    holdout = None if early is None else early.fraction
    with passes_over(
        client,
        (X, y, sample_weight),
        runs,
        cache=options.cache,
        cache_dir=options.cache_dir,
        holdout=holdout,
        layout=layout,
    ) as (run_pass, mode):
        # 2. the summary pass, the objective and the solver's start
        spec = SOLVERS[name]
        summary = _summary_pass(run_pass, options, spec, X.shape[0], init, resume, hessian_rows)
        rows = summary.rows if summary is not None else X.shape[0]
        stride = hessian_stride(rows, hessian_rows)
        kept = None if resume is None else (resume.scaling, resume.class_weight)
        objective = objective_for(
            options, width, n_classes, summary, stride=stride, fixed=kept, shape=penalty
        )
        solver = _solver(spec, name, objective, options, summary, init, resume)
        # 3. the solver's requests answered pass by pass; each state recorded
        save = _saver(checkpoint, run_pass, objective, name, options.standardize)
        recorder = Recorder(run_pass, callbacks, started, early, save, resume)
        member = Member(solver, recorder)
        run_lockstep([member], _answer_probes(run_pass, objective, early is not None))
        state, stopped = recorder.outcome(member.last)
        # 4. without a penalty: separable classes have no optimum (one more pass)
        unpenalised = options.alpha == 0 and not np.any(objective.prior_weight)
        separated = unpenalised and _separates(run_pass, objective, state, recorder.history)
        if n_classes == 2 and unpenalised and not separated and summary is not None:
            _warn_quasi_separation(run_pass, objective, state, summary, names)
    if separated:  # converged or not, there is no optimum: say so, and why
        state = replace(state, converged=False)
        _warn_separable(name, state)
    message = _stop_message(name, state, options.tol, separated, stopped, early, recorder)
    return _result(state, objective, run_pass, recorder, message, name, mode, names)


def _result(state, objective, run_pass, recorder, message, name, mode, names) -> FitResult:
    """The fit's coefficients in the original units, its history and what it measured."""
    coef, intercept = objective.to_original(state.params)
    totals = None if state.evaluation is None else state.evaluation.totals
    return FitResult(
        coef=np.array(coef),
        intercept=intercept,
        converged=state.converged,
        n_iter=state.iteration,
        n_passes=run_pass.count,
        history=recorder.history,
        message=message,
        solver=name,
        cache=mode,
        rows=0 if totals is None else int(totals.rows),
        pass_seconds=list(run_pass.seconds),
        statistics=fit_statistics(objective, state, names),
    )


def _check_resume(options, name: str, checkpoint, resume) -> None:
    if options.early_stopping and (checkpoint is not None or resume is not None):
        raise ConfigError("early stopping does not go with checkpoints or resume")
    if resume is not None and resume.solver != name:
        raise ConfigError(f"the checkpoint is for solver '{resume.solver}', this fit uses '{name}'")


def _summary_pass(
    run_pass: PassRunner, options: FitOptions, spec: SolverSpec, rows, init, resume, sample_rows
) -> SummarySums | None:
    """The first pass's sums, unless a resumed fit or a plain warm start needs none."""
    if resume is not None:
        run_pass.count = resume.passes
        return None
    balanced = options.class_weight == "balanced"
    if not (init is None or options.standardize or balanced):
        return None
    full_moments = spec.uses_hessian and init is None and options.class_weight is None
    stride = hessian_stride(rows, sample_rows)
    # the spreads serve standardisation, L-BFGS's first scaling and the check for
    # quasi-separation (alpha = 0); a Newton fit needs none of them
    spreads = options.standardize or not spec.uses_hessian or options.alpha == 0 or init is not None
    n_classes = run_pass.options.n_classes
    return run_pass(summary_sums, full_moments, n_classes, stride, spreads)


def objective_for(
    options: FitOptions,
    n_features: int,
    n_classes: int,
    summary: SummarySums | None,
    *,
    alpha: float | None = None,
    stride: int = 1,
    fixed: tuple | None = None,
    shape: PenaltyShape | None = None,
) -> LogisticObjective:
    """The objective of ``options`` (at ``alpha``, by default the options') with what the
    summary fixed: the scaling of ``standardize`` and the class weights of "balanced" —
    or, ``fixed`` = (scaling, class weights), what a checkpoint kept of them."""
    if fixed is not None:
        scaling, class_weight = fixed
    else:
        scaling = None
        if options.standardize:
            assert summary is not None  # standardize always takes the summary pass
            scaling = Scaling.from_summary(summary, center=options.fit_intercept)
        class_weight = resolve_class_weight(options.class_weight, summary, n_classes)
    return LogisticObjective(
        None,
        n_features,
        alpha=options.alpha if alpha is None else alpha,
        l1_ratio=options.l1_ratio,
        fit_intercept=options.fit_intercept,
        scaling=scaling,
        class_weight=class_weight,
        n_classes=n_classes,
        hessian_stride=stride,
        shape=shape,
    )


def _solver(spec, name, objective, options, summary, init, resume) -> Solver:
    """The solver, started at the log-odds (no pass), a warm start, or a checkpoint."""
    extra: dict = {}
    if resume is not None:
        x0, start = resume.state.params, None
        extra["resume"] = resume.state
    elif init is None:
        x0, start = objective.start(summary)
    else:
        x0, start = objective.from_original(*init), None
    non_smooth = objective.non_smooth()  # the L1 part and the bounds
    if non_smooth is not None:
        extra["penalty"] = non_smooth
    if name == "newton" and objective.hessian_stride > 1:
        extra["reuse_hessian"] = True
    return spec.run(x0, start, tol=options.tol, max_iter=options.max_iter, **extra)


def _answer_probes(run_pass: PassRunner, objective: LogisticObjective, held_out: bool) -> Answer:
    """Answer one solver's request with one pass of ``probe_sums``."""

    def answer(requests: list[tuple[int, Request]]):
        [(_, request)] = requests
        result = run_pass(probe_sums, objective.probe(request))
        if held_out:
            return [objective.evaluation(request, result.train, result.mean_loss)]
        return [objective.evaluation(request, result)]

    return answer


def _saver(plan: CheckpointPlan | None, run_pass, objective, solver: str, standardize: bool):
    """Write a checkpoint every ``plan.every`` iterations (nothing without a plan)."""

    def save(state: SolverState, history: list[IterationRecord]) -> None:
        if plan is None or not state.memory or state.iteration % plan.every:
            return
        checkpoint = Checkpoint(
            state=state,
            passes=run_pass.count,
            history=[asdict(record) for record in history],
            solver=solver,
            scaling=objective.scaling if standardize else None,
            class_weight=objective.class_weight,
            identity=plan.identity,
        )
        write_checkpoint(plan.path, checkpoint)

    return save


class Recorder:
    """What happens after each iteration of a fit: a history entry, a checkpoint, the
    callbacks (a True one stops the fit) and early stopping. A resumed fit continues
    its checkpoint's history."""

    def __init__(self, run_pass, callbacks, started, early, save, resume=None) -> None:
        self.run_pass, self.callbacks, self.started = run_pass, callbacks, started
        self.early, self.save, self.resume = early, save, resume
        self.history = [] if resume is None else [IterationRecord(**h) for h in resume.history]
        self.chosen: SolverState | None = None
        self.stopped = False

    def __call__(self, state: SolverState) -> bool:
        loss = None if self.early is None else self.early.loss_at(state)
        seconds = time.perf_counter() - self.started
        record = IterationRecord.of(state, seconds, self.run_pass.count, loss)
        self.history.append(record)
        self.save(state, self.history)
        stop = any([callback(record) for callback in self.callbacks])  # every one sees it
        if self.early is not None and self.early.observe(state, loss):
            self.chosen, self.stopped = self.early.best, True
        elif stop:
            self.chosen, self.stopped = state, not state.converged
        return self.chosen is not None

    def outcome(self, last: SolverState | None) -> tuple[SolverState, bool]:
        """The state the fit ends at, and whether it was stopped before converging; with
        early stopping, the one whose held-out loss was lowest."""
        if self.chosen is not None:
            return self.chosen, self.stopped
        state = last if last is not None else self.resume.state
        if self.early is not None and self.early.worse(self.history[-1].validation_loss):
            return self.early.best, True  # converged past the best held-out loss
        return state, False


def _stop_message(name, state, tol, separated, stopped, early, recorder) -> str:
    """Why the fit stopped where it did ("" when it reached ``tol``); warns when not."""
    if separated:
        return "separable classes: no optimum without a penalty (alpha = 0)"
    if stopped and early is not None:
        return early.message(recorder.history[-1].iteration)
    if stopped:
        return f"stopped by a callback after {state.iteration} iterations"
    if state.converged:
        return ""
    message = state.message or (
        f"max|gradient| {state.grad_norm:.3g} > tol {tol:g} after {state.iteration} "
        "iterations; raise max_iter or tol"
    )
    warnings.warn(f"solver '{name}' did not converge: {message}", ConvergenceWarning, stacklevel=4)
    return message


def _warn_separable(name: str, state: SolverState) -> None:
    warnings.warn(
        f"solver '{name}' stopped after {state.iteration} iterations at coefficients that "
        "classify every training row correctly: the classes are separable, and with "
        "alpha = 0 the loss only approaches 0 as the coefficients grow without bound, so "
        "there is no optimum. Set alpha > 0 (e.g. 1e-4) to regularise",
        SeparationWarning,
        stacklevel=4,
    )


def _warn_quasi_separation(run_pass, objective, state, summary, names) -> None:
    """Warn, naming the features, when coefficients run away and some rows sit at a
    fitted probability of 0 or 1. The pass that counts those rows runs only when some
    |coefficient × standard deviation| exceeds ``LARGE_STANDARDISED_COEF``."""
    coef, intercept = objective.to_original(state.params)
    std = np.sqrt(np.maximum(summary.spread, 0.0) / summary.weight)
    if not np.any(np.abs(coef[0] * std) > LARGE_STANDARDISED_COEF):
        return
    extreme = run_pass(extreme_sums, coef[0], float(intercept[0]))
    message = quasi_separation(
        coef[0], float(intercept[0]), std, names, extreme_share=extreme.share
    )
    if message is not None:
        warnings.warn(message, SeparationWarning, stacklevel=4)


def _separates(run_pass: PassRunner, objective, state: SolverState, history) -> bool:
    """Whether the final coefficients classify every row correctly (one more pass, run only
    when the loss fell below ``SEPARABLE_LOSS_SHARE`` of its start)."""
    if not state.objective < SEPARABLE_LOSS_SHARE * history[0].objective:
        return False
    coef, intercept = objective.to_original(state.params)
    sums = run_pass(metric_sums, coef, intercept, 0.5, False)
    return sums.correct >= sums.weight


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
