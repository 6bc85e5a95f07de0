"""Many fits in the same passes: a regularisation path and k-fold cross-validation.

A pass over out-of-core data costs a full scan, whatever is computed on each chunk. So
the models of a penalty grid — one per alpha on all rows, and one per (alpha, fold) on
the rows outside the fold — do not take turns: every pass evaluates every model that is
still running, and the whole grid costs about as many passes as its slowest model.

Folds come from a hash of each row's index (``fold_of``): no shuffle, no extra column,
the same rows in the same fold on every run and every cluster. A fold's model sees the
other rows through its weights (rows of its fold weigh 0), so no chunk is copied or
filtered, and one summary pass gives every model its own start (and scaling).

Every model's solver is an ask-and-tell generator; one loop (``lockstep.run_lockstep``)
collects the request of every running model, answers them all with one tree reduction
(``lockstep_sums``) and sends each model its evaluation, always in the same order, so
the passes and results are deterministic and no thread is needed. A final pass scores
each fold's model on its held-out rows (log-loss, or AUC).
"""

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from dasklr.errors import ConfigError, ConvergenceWarning
from dasklr.fit.driver import IterationRecord, objective_for
from dasklr.fit.lockstep import Member, run_lockstep
from dasklr.fit.objective import LogisticObjective, PenaltyShape, check_classes
from dasklr.fit.statistics import fit_statistics
from dasklr.kernels.design import Layout
from dasklr.kernels.grid import ALL_ROWS, held_out_sums, lockstep_summaries, lockstep_sums
from dasklr.kernels.summary import SummarySums
from dasklr.options import SCORINGS, FitOptions
from dasklr.passes.runner import PassOptions, PassRunner, passes_over
from dasklr.solvers.registry import SOLVERS, choose_solver
from dasklr.solvers.state import SolverState
from dasklr.stats.inference import FitStatistics
from dasklr.stats.metrics import histogram_auc


@dataclass
class ModelFit:
    """One model of the grid: its penalty, its fold (``ALL_ROWS``: all data) and result."""

    alpha: float
    fold: int
    coef: np.ndarray | None = None
    intercept: np.ndarray | None = None
    objective: float = float("nan")
    converged: bool = False
    n_iter: int = 0
    history: list[IterationRecord] = field(default_factory=list)
    message: str = ""
    #: for ``summary()`` (all-rows models only)
    statistics: FitStatistics | None = None
    #: held-out score of a fold's model: mean log-loss or AUC
    score: float = float("nan")


@dataclass
class GridResult:
    models: list[ModelFit]
    n_passes: int
    solver: str
    cache: str
    rows: int


def train_grid(
    X,
    y,
    sample_weight=None,
    options: FitOptions | None = None,
    *,
    alphas: Sequence[float] | np.ndarray,
    n_folds: int = 0,
    all_rows: bool = True,
    scoring: str = "log_loss",
    seed: int = 0,
    n_classes: int = 2,
    client=None,
    check_chunks: bool = True,
    progress=None,
    validation: tuple | None = None,
    feature_names=None,
    penalty: PenaltyShape | None = None,
    layout: Layout | None = None,
) -> GridResult:
    """Fit one model per alpha on all rows (``all_rows``) and one per (alpha, fold) for
    ``n_folds`` ≥ 2, all in the same passes; then score the fold models on their folds,
    or — given ``validation`` = (X, y, w, check_chunks) — the all-rows models on that
    data (one pass over it).

    ``options`` mean what they mean for ``driver.train`` (its ``alpha`` is unused: each
    model has its own); ``seed`` varies the folds; ``penalty`` shapes every model's
    penalty alike and ``layout`` describes categorical columns (``driver.train``).
    """
    options = options or FitOptions()
    folds = _checked_grid(alphas, n_folds, all_rows, scoring, n_classes)
    models = [ModelFit(float(a), f) for a in alphas for f in folds]
    width = X.shape[1] if layout is None else layout.width
    n_coefficients = width * (1 if n_classes == 2 else n_classes)
    name = choose_solver(options.solver, n_coefficients, l1=options.l1_ratio * max(alphas) > 0)
    started = time.perf_counter()
    runs = PassOptions.of(
        options, progress=progress, check_chunks=check_chunks, n_classes=n_classes
    )
    arrays = (X, y, sample_weight)
    with passes_over(
        client,
        arrays,
        runs,
        cache=options.cache,
        cache_dir=options.cache_dir,
        row_index=True,
        layout=layout,
    ) as (run_pass, mode):
        full_moments = SOLVERS[name].uses_hessian and options.class_weight is None
        found = run_pass(lockstep_summaries, n_folds, seed, tuple(folds), full_moments, n_classes)
        summaries = dict(zip(folds, found, strict=True))
        objectives = [
            _model_objective(options, m, summaries[m.fold], width, n_classes, penalty)
            for m in models
        ]
        members = [
            Member(
                _grid_solver(name, o, summaries[m.fold], options), _history_of(m, run_pass, started)
            )
            for m, o in zip(models, objectives, strict=True)
        ]
        run_lockstep(members, _answer_grid(run_pass, models, objectives, n_folds, seed))
        for model, objective, member in zip(models, objectives, members, strict=True):
            assert member.last is not None  # every solver yields its starting state
            _store(model, objective, member.last, feature_names)
        if n_folds:
            _score_folds(run_pass, models, n_folds, seed, scoring)
        if validation is not None:
            _score_validation(run_pass, models, validation, runs, seed, scoring)
    _warn_unconverged(models, name, options.tol)
    return GridResult(models, run_pass.count, name, mode, summaries[folds[0]].rows)


def _checked_grid(alphas, n_folds: int, all_rows: bool, scoring: str, n_classes: int) -> list[int]:
    """The folds of the grid's models (``ALL_ROWS`` first); refuses grids that cannot run."""
    if scoring not in SCORINGS:
        raise ConfigError(f"scoring must be one of {SCORINGS}, got {scoring!r}")
    if n_folds == 1 or n_folds < 0:
        raise ConfigError(f"cv needs at least 2 folds (or 0 for none), got {n_folds}")
    if scoring == "roc_auc" and n_classes != 2:
        raise ConfigError("scoring='roc_auc' is for binary labels; use 'log_loss'")
    folds = ([ALL_ROWS] if all_rows else []) + list(range(n_folds))
    if not folds or not len(alphas):
        raise ConfigError("nothing to fit: no alphas, or neither all rows nor folds")
    return folds


def _model_objective(options, model: ModelFit, summary, n_features, n_classes, penalty):
    _check_fold(summary, model.fold, n_classes)
    return objective_for(options, n_features, n_classes, summary, alpha=model.alpha, shape=penalty)


def _grid_solver(name: str, objective: LogisticObjective, summary, options: FitOptions):
    x0, start = objective.start(summary)
    extra = {}
    non_smooth = objective.non_smooth()  # the L1 part and the bounds
    if non_smooth is not None:
        extra["penalty"] = non_smooth
    return SOLVERS[name].run(x0, start, tol=options.tol, max_iter=options.max_iter, **extra)


def _history_of(model: ModelFit, run_pass: PassRunner, started: float):
    """Record every state of one model's solver in its history; never stop it."""

    def record(state: SolverState) -> bool:
        seconds = time.perf_counter() - started
        model.history.append(IterationRecord.of(state, seconds, run_pass.count))
        return False

    return record


def _answer_grid(run_pass: PassRunner, models, objectives, n_folds: int, seed: int):
    """Answer every running model's request in one pass of ``lockstep_sums``."""

    def answer(requests):
        shared = tuple((models[i].fold, objectives[i].probe(r)) for i, r in requests)
        sums = run_pass(lockstep_sums, n_folds, seed, shared)
        return [
            objectives[i].evaluation(r, part) for (i, r), part in zip(requests, sums, strict=True)
        ]

    return answer


def _store(model: ModelFit, objective: LogisticObjective, state: SolverState, names) -> None:
    coef, intercept = objective.to_original(state.params)
    model.coef, model.intercept = np.array(coef), np.array(intercept)
    model.objective, model.converged = state.objective, state.converged
    model.n_iter = state.iteration
    model.message = state.message
    if model.fold == ALL_ROWS:
        model.statistics = fit_statistics(objective, state, names)


def _score_validation(run_pass, models, validation, runs: PassOptions, seed, scoring) -> None:
    """Score the all-rows models on other data: one pass over it, counted with the fit's."""
    *arrays, check = validation
    other = replace(runs, check_chunks=check)
    layout = run_pass.layout  # validation data coded with the same levels
    with passes_over(run_pass.client, tuple(arrays), other, row_index=True, layout=layout) as (
        on_other,
        _,
    ):
        _score_folds(on_other, models, 0, seed, scoring, scored_fold=ALL_ROWS)
    run_pass.count += on_other.count


def _check_fold(summary: SummarySums, fold: int, n_classes: int) -> None:
    """A fold whose training rows miss a class cannot be fitted: say which fold."""
    if fold == ALL_ROWS:
        return
    try:
        check_classes(summary.weight, summary.weighted_labels)
    except ValueError as error:
        raise ConfigError(
            f"the training rows of fold {fold} cannot be fitted ({error}); use fewer folds"
        ) from None


def _score_folds(run_pass, models, n_folds, seed, scoring, scored_fold=None) -> None:
    """One pass: every fold model's mean held-out log-loss (or AUC) on its own fold; with
    ``scored_fold=ALL_ROWS``, the all-rows models' on all rows of another dataset."""
    if scored_fold is None:
        scored = [m for m in models if m.fold != ALL_ROWS]
    else:
        scored = [m for m in models if m.fold == scored_fold]
    requests = tuple((m.fold, np.atleast_2d(m.coef), np.atleast_1d(m.intercept)) for m in scored)
    sums = run_pass(held_out_sums, n_folds, seed, requests, scoring)
    for model, part in zip(scored, sums, strict=True):
        if scoring == "roc_auc":
            auc, _ = histogram_auc(part.positive_histogram[0], part.negative_histogram[0])
            model.score = float("nan") if auc is None else auc
        elif part.weight > 0:
            model.score = part.loss / part.weight
        else:
            where = "the validation data" if model.fold == ALL_ROWS else f"fold {model.fold}"
            raise ConfigError(f"{where} holds no rows (or only zero weights)")


def _warn_unconverged(models: list[ModelFit], solver: str, tol: float) -> None:
    late = [m for m in models if not m.converged]
    if late:
        where = ", ".join(
            f"alpha={m.alpha:g}" + ("" if m.fold == ALL_ROWS else f" fold {m.fold}")
            for m in late[:5]
        )
        warnings.warn(
            f"solver '{solver}' did not reach tol {tol:g} for {len(late)} of {len(models)} "
            f"models ({where}{', …' if len(late) > 5 else ''}); raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )
