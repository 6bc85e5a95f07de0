"""Many fits in the same passes: a regularisation path and k-fold cross-validation.

A pass over out-of-core data costs a full scan, whatever is computed on each chunk. So
the models of a penalty grid — one per alpha on all rows, and one per (alpha, fold) on
the rows outside the fold — do not take turns: every pass evaluates every model that is
still running, and the whole grid costs about as many passes as its slowest model.

Folds come from a hash of each row's index (``fold_of``): no shuffle, no extra column,
the same rows in the same fold on every run and every cluster. A fold's model sees the
other rows through its weights (rows of its fold weigh 0), so no chunk is copied or
filtered, and one summary pass gives every model its own start (and scaling).

Each model's solver runs unchanged in its own thread. Its ``evaluate`` blocks until the
driver has collected one request from every running model, answered them all with one
tree reduction (``lockstep_sums``) and handed each model its sums; which model asked
first never matters, so the passes and results are deterministic. A final pass scores
each fold's model on its held-out rows (log-loss, or AUC).
"""

import functools
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from dasklr.driver import (
    IterationRecord,
    PassRunner,
    _inference,
    _on_cluster,
    passes_over,
    resolve_class_weight,
)
from dasklr.errors import ConfigError, ConvergenceWarning
from dasklr.folds import fold_of
from dasklr.kernels import Probe, SummarySums, probe_sums, summary_sums
from dasklr.metrics import histogram_auc, metric_sums
from dasklr.objective import LogisticObjective, Scaling
from dasklr.reduction import DEFAULT_SPLIT_EVERY, DEFAULT_WORKER_TIMEOUT, ChunkGraph
from dasklr.solvers import SOLVERS, L1Penalty, choose_solver

#: ``fold`` of a model trained on all rows.
ALL_ROWS = -1
SCORINGS = ("log_loss", "roc_auc")


def _fold_weights(w, n_rows: int, offset: int, n_folds: int, seed: int):
    """{fold: (weights of its training rows, weights of its held-out rows)} for one chunk."""
    base = np.ones(n_rows) if w is None else np.asarray(w, dtype=np.float64)
    out = {ALL_ROWS: (w, w)}  # "held out" of all rows: a separate validation dataset
    if n_folds:
        folds = fold_of(np.arange(offset, offset + n_rows), n_folds, seed)
        for f in range(n_folds):
            held = folds == f
            out[f] = (np.where(held, 0.0, base), np.where(held, base, 0.0))
    return out


class PerModel(tuple):
    """One partial per model: merges element by element (``merge_sums`` adds with +)."""

    def __add__(self, other: "PerModel") -> "PerModel":
        return PerModel(a + b for a, b in zip(self, other, strict=True))

    @property
    def rows(self) -> int:
        return self[0].rows if self else 0


# -- kernels (one chunk, every model) -------------------------------------------------------


def lockstep_sums(X, y, w, offset: int, n_folds: int, seed: int, requests: tuple) -> PerModel:
    """``probe_sums`` for each (fold, probe) request, on the training rows of its fold."""
    weights = _fold_weights(w, X.shape[0], offset, n_folds, seed)
    return PerModel(probe_sums(X, y, weights[fold][0], probe) for fold, probe in requests)


def lockstep_summaries(X, y, w, offset, n_folds, seed, folds, full_moments, n_classes):
    """``summary_sums`` on the training rows of each fold in ``folds``."""
    weights = _fold_weights(w, X.shape[0], offset, n_folds, seed)
    return PerModel(summary_sums(X, y, weights[fold][0], full_moments, n_classes) for fold in folds)


def held_out_sums(X, y, w, offset, n_folds, seed, requests: tuple, scoring: str) -> PerModel:
    """Each (fold, coef, intercept) model's score sums on the rows of its fold."""
    weights = _fold_weights(w, X.shape[0], offset, n_folds, seed)
    parts = []
    for fold, coef, intercept in requests:
        held = weights[fold][1]
        if scoring == "roc_auc":
            parts.append(metric_sums(X, y, held, coef, intercept, 0.5, False))
        else:
            binary = coef.shape[0] == 1
            probe = Probe(coef[0] if binary else coef, intercept[0] if binary else intercept)
            parts.append(probe_sums(X, y, held, probe))
    return PerModel(parts)


# -- the lockstep --------------------------------------------------------------------------


class _Abandoned(Exception):
    """Raised in a model's thread when the fit failed elsewhere: stop quietly."""


class Lockstep:
    """Gathers one request from every running model; the driver answers all in one pass."""

    def __init__(self, n_models: int) -> None:
        self._cond = threading.Condition()
        self._requests: dict[int, Probe] = {}
        self._answers: dict[int, object] = {}
        self._busy = n_models  # models neither waiting for an answer nor finished
        self.failure: BaseException | None = None

    def ask(self, model: int, probe: Probe):
        """A model's pass: wait until the driver has answered every model's request."""
        with self._cond:
            if self.failure is not None:
                raise _Abandoned
            self._requests[model] = probe
            self._busy -= 1
            self._cond.notify_all()
            self._cond.wait_for(lambda: model in self._answers or self.failure is not None)
            if model not in self._answers:
                raise _Abandoned
            return self._answers.pop(model)

    def finished(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            if self.failure is None:
                self.failure = error
            self._cond.notify_all()

    def gather(self) -> dict[int, Probe]:
        """The requests of every running model, by model; empty when all have finished."""
        with self._cond:
            self._cond.wait_for(lambda: self._busy == 0 or self.failure is not None)
            if self.failure is not None:
                raise self.failure
            requests = dict(sorted(self._requests.items()))
            self._requests.clear()
            return requests

    def answer(self, answers: dict[int, object]) -> None:
        with self._cond:
            self._answers.update(answers)
            self._busy += len(answers)
            self._cond.notify_all()


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
    history: list[dict] = field(default_factory=list)
    message: str = ""
    #: for ``summary()`` (all-rows models only)
    inference: dict | None = None
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
    *,
    alphas: Sequence[float],
    n_folds: int = 0,
    all_rows: bool = True,
    scoring: str = "log_loss",
    seed: int = 0,
    l1_ratio: float = 0.0,
    fit_intercept: bool = True,
    solver: str = "auto",
    tol: float = 1e-6,
    max_iter: int = 100,
    standardize: bool = False,
    class_weight=None,
    n_classes: int = 2,
    split_every: int = DEFAULT_SPLIT_EVERY,
    client=None,
    check_chunks: bool = True,
    cache: str = "auto",
    cache_dir: str | None = None,
    progress=None,
    retries: int = 2,
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT,
    validation: tuple | None = None,
    feature_names=None,
) -> GridResult:
    """Fit one model per alpha on all rows (``all_rows``) and one per (alpha, fold) for
    ``n_folds`` ≥ 2, all in the same passes; then score the fold models on their folds,
    or — given ``validation`` = (X, y, w, check_chunks) — the all-rows models on that
    data (one pass over it).

    The options mean what they mean for ``driver.train``; ``seed`` varies the folds.
    """
    if scoring not in SCORINGS:
        raise ConfigError(f"scoring must be one of {SCORINGS}, got {scoring!r}")
    if n_folds == 1 or n_folds < 0:
        raise ConfigError(f"cv needs at least 2 folds (or 0 for none), got {n_folds}")
    if scoring == "roc_auc" and n_classes != 2:
        raise ConfigError("scoring='roc_auc' is for binary labels; use 'log_loss'")
    folds = ([ALL_ROWS] if all_rows else []) + list(range(n_folds))
    models = [ModelFit(float(a), f) for a in alphas for f in folds]
    if not models:
        raise ConfigError("nothing to fit: no alphas, or neither all rows nor folds")
    n_features = X.shape[1]
    n_coefficients = n_features * (1 if n_classes == 2 else n_classes)
    name = choose_solver(solver, n_coefficients, l1=l1_ratio > 0 and max(alphas) > 0)
    spec = SOLVERS[name]
    started = time.perf_counter()
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
        row_index=True,
    ) as (run_pass, mode):
        active = run_pass.client
        full_moments = spec.uses_hessian and class_weight is None
        summaries = dict(
            zip(
                folds,
                run_pass(
                    lockstep_summaries,
                    n_folds,
                    seed,
                    tuple(folds),
                    full_moments,
                    n_classes,
                ),
                strict=True,
            )
        )
        lockstep = Lockstep(len(models))
        objectives = []
        for index, model in enumerate(models):
            summary = summaries[model.fold]
            _check_fold(summary, model.fold, n_classes)
            objectives.append(
                LogisticObjective(
                    functools.partial(lockstep.ask, index),
                    n_features,
                    alpha=model.alpha,
                    l1_ratio=l1_ratio,
                    fit_intercept=fit_intercept,
                    scaling=Scaling.from_summary(summary, center=fit_intercept)
                    if standardize
                    else None,
                    class_weight=resolve_class_weight(class_weight, summary, n_classes),
                    n_classes=n_classes,
                )
            )
        states = _run_lockstep(
            lockstep,
            run_pass,
            spec,
            objectives,
            summaries,
            models,
            tol,
            max_iter,
            started,
            n_folds,
            seed,
        )
        for model, objective, state in zip(models, objectives, states, strict=True):
            coef, intercept = objective.to_original(state.params)
            model.coef, model.intercept = np.array(coef), np.array(intercept)
            model.objective, model.converged = state.objective, state.converged
            model.n_iter = state.iteration
            model.message = state.message
            if model.fold == ALL_ROWS:
                model.inference = _inference(
                    objective,
                    state,
                    summaries[ALL_ROWS],  # Σw, Σw·y and rows, as a pass runner has
                    n_classes,
                    l1_ratio,
                    feature_names,
                )
        if n_folds:
            _score_folds(run_pass, models, n_folds, seed, scoring)
        if validation is not None:
            *arrays, check = validation
            arrays, _ = _on_cluster(active, *arrays)
            run_other = PassRunner(
                active,
                ChunkGraph.from_arrays(*arrays),
                split_every=split_every,
                check_first=check,
                n_classes=n_classes,
                progress=progress,
                retries=retries,
                worker_timeout=worker_timeout,
                chunk_args=[(0,)] * arrays[0].numblocks[0],
            )
            _score_folds(run_other, models, 0, seed, scoring, scored_fold=ALL_ROWS)
            run_pass.count += run_other.count
    _warn_unconverged(models, name, tol)
    return GridResult(models, run_pass.count, name, mode, summaries[folds[0]].rows)


def _run_lockstep(
    lockstep, run_pass, spec, objectives, summaries, models, tol, max_iter, started, n_folds, seed
):
    """Run every model's solver in a thread and answer their passes together."""
    finals: list = [None] * len(models)

    def solve(index: int) -> None:
        objective, model = objectives[index], models[index]
        try:
            x0, start = objective.start(summaries[model.fold])
            extra = {}
            if objective.l1_strength is not None:
                extra["penalty"] = L1Penalty(objective.l1_strength)
            for state in spec.run(
                objective.evaluate, x0, start, tol=tol, max_iter=max_iter, **extra
            ):
                record = IterationRecord(
                    iteration=state.iteration,
                    objective=state.objective,
                    grad_norm=state.grad_norm,
                    step=state.step,
                    seconds=time.perf_counter() - started,
                    passes=run_pass.count,
                )
                model.history.append(asdict(record))
                finals[index] = state
        except _Abandoned:
            pass
        except BaseException as error:  # handed to the driver's thread
            lockstep.fail(error)
        finally:
            lockstep.finished()

    threads = [
        threading.Thread(target=solve, args=(i,), name=f"dasklr-model-{i}", daemon=True)
        for i in range(len(models))
    ]
    for thread in threads:
        thread.start()
    try:
        while requests := lockstep.gather():
            order = list(requests)
            shared = tuple((models[i].fold, requests[i]) for i in order)
            sums = run_pass(lockstep_sums, n_folds, seed, shared)
            lockstep.answer(dict(zip(order, sums, strict=True)))
    except BaseException as error:
        lockstep.fail(error)
        raise
    finally:
        for thread in threads:
            thread.join()
    return finals


def _check_fold(summary: SummarySums, fold: int, n_classes: int) -> None:
    """A fold whose training rows miss a class cannot be fitted: say which fold."""
    from dasklr.objective import check_classes

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
