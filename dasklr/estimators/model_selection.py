"""Choosing the penalty: the regularisation path and cross-validation (``dasklr.fit.grid``).

``fit_path`` fits a grid of alphas on all rows; ``LogisticRegressionCV`` also fits every
(alpha, fold) model, picks the alpha with the best mean held-out score and keeps the
all-rows model at that alpha — refitted in the same passes, so no pass is added for it.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import dask.array as da
import numpy as np

from dasklr.data.parquet import ParquetData
from dasklr.errors import ConfigError
from dasklr.estimators.estimator import DEFAULTS, LogisticRegression
from dasklr.estimators.inputs import (
    check_formula_intercept,
    checked_numpy,
    class_weight_by_index,
    data_layout,
    index_in,
    label_values,
    labels_of,
)
from dasklr.estimators.penalty import penalty_shape
from dasklr.fit.driver import FitResult
from dasklr.fit.grid import GridResult, ModelFit, train_grid
from dasklr.kernels.grid import ALL_ROWS
from dasklr.options import NOT_FOR_GRID, SCORINGS, FitOptions, option_fields
from dasklr.passes.cluster import connect
from dasklr.passes.in_process import fits_in_process
from dasklr.passes.progress import PassProgress

#: The default grid: 12 alphas from 1 down to 1e-6, evenly spaced in log scale.
DEFAULT_ALPHAS = tuple(np.logspace(0, -6, 12).tolist())


def checked_alphas(alphas: Sequence[float] | np.ndarray | None) -> np.ndarray:
    """The grid as floats from the largest penalty to the smallest; refuses bad values."""
    values = np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ConfigError(f"alphas must be a non-empty list of numbers, got {alphas!r}")
    bad = values[~(np.isfinite(values) & (values >= 0))]
    if bad.size:
        raise ConfigError(f"alphas must be finite and >= 0; got {bad[0]!r}")
    if np.unique(values).size != values.size:
        raise ConfigError(f"alphas must be distinct, got {values.tolist()}")
    return np.sort(values)[::-1]


@dataclass(frozen=True)
class RegularizationPath:
    """Models of a grid of alphas on all rows, from the largest alpha to the smallest.

    ``coef`` is (n_alphas, B, d) and ``intercept`` (n_alphas, B), B = 1 for binary and
    K for multinomial; ``passes`` is the pass after which each alpha's model converged.
    """

    alphas: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    objective: np.ndarray
    n_iter: np.ndarray
    passes: np.ndarray
    converged: np.ndarray
    n_passes: int

    def as_dict(self) -> dict[str, Any]:
        """Plain lists, for the model file and the report."""
        return {
            "alphas": self.alphas.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "objective": self.objective.tolist(),
            "n_iter": self.n_iter.tolist(),
            "passes": self.passes.tolist(),
            "converged": self.converged.tolist(),
            "n_passes": self.n_passes,
        }


def _path_of(result: GridResult, alphas: np.ndarray) -> RegularizationPath:
    full = [m for m in result.models if m.fold == ALL_ROWS]
    return RegularizationPath(
        alphas=alphas,
        # every model is fitted by now (``train_grid`` stores each one's coefficients)
        coef=np.stack([cast(np.ndarray, m.coef) for m in full]),
        intercept=np.stack([cast(np.ndarray, m.intercept) for m in full]),
        objective=np.array([m.objective for m in full]),
        n_iter=np.array([m.n_iter for m in full]),
        passes=np.array([m.history[-1].passes for m in full]),
        converged=np.array([m.converged for m in full]),
        n_passes=result.n_passes,
    )


class LogisticRegressionCV(LogisticRegression):
    """``LogisticRegression`` whose alpha is chosen by k-fold cross-validation.

    Every (alpha, fold) model and the all-rows model of every alpha train in the same
    passes over the data (``dasklr.fit.grid``). Folds come from a hash of the row index
    (``dasklr.fold_ids`` lists them, e.g. for scikit-learn's ``PredefinedSplit``). The
    chosen alpha has the best mean over folds of the held-out score — the weighted mean
    log-loss (``scoring="log_loss"``, lower is better) or AUC (``"roc_auc"``, binary);
    ties go to the larger alpha. ``coef_`` is that alpha's model on all rows.

    Attributes after ``fit``: ``alpha_``, ``alphas_`` (largest first), ``scores_``
    (n_alphas, cv), ``mean_scores_``, ``path_`` (a ``RegularizationPath``), and those of
    ``LogisticRegression`` for the chosen model. The other parameters are
    ``LogisticRegression``'s.
    """

    def __init__(
        self,
        alphas: Sequence[float] | np.ndarray | None = None,
        cv: int = 5,
        scoring: str = "log_loss",
        seed: int = 0,
        l1_ratio: float = DEFAULTS.l1_ratio,
        fit_intercept: bool = DEFAULTS.fit_intercept,
        solver: str = DEFAULTS.solver,
        tol: float = DEFAULTS.tol,
        max_iter: int = DEFAULTS.max_iter,
        split_every: int = DEFAULTS.split_every,
        standardize: bool = DEFAULTS.standardize,
        class_weight: str | dict | tuple | None = DEFAULTS.class_weight,
        cache: str = DEFAULTS.cache,
        cache_dir: str | None = DEFAULTS.cache_dir,
        retries: int = DEFAULTS.retries,
        worker_timeout: float = DEFAULTS.worker_timeout,
        penalty_factor: dict | None = DEFAULTS.penalty_factor,
        prior_model: Any = DEFAULTS.prior_model,
        prior_strength: float = DEFAULTS.prior_strength,
        bounds: dict | None = DEFAULTS.bounds,
        offset: str | None = DEFAULTS.offset,
        client: Any = None,
        verbose: bool = False,
    ) -> None:
        # its own parameters only (scikit-learn reads every attribute named like a
        # parameter as one): alpha is chosen, early stopping and warm starts do not apply
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.seed = seed
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.split_every = split_every
        self.standardize = standardize
        self.class_weight = class_weight
        self.cache = cache
        self.cache_dir = cache_dir
        self.retries = retries
        self.worker_timeout = worker_timeout
        self.penalty_factor = penalty_factor
        self.prior_model = prior_model
        self.prior_strength = prior_strength
        self.bounds = bounds
        self.offset = offset
        self.client = client
        self.verbose = verbose

    @property
    def alpha(self) -> float:
        """The chosen alpha (``alpha_``) once fitted: what the saved model was fitted with."""
        return getattr(self, "alpha_", 0.0)

    @alpha.setter
    def alpha(self, value) -> None:
        raise AttributeError("LogisticRegressionCV chooses alpha; give the candidates as alphas")

    def artifact_params(self) -> dict[str, Any]:
        """``LogisticRegression``'s parameters of the chosen model, for its model file."""
        plain = LogisticRegression().get_params()
        params = {name: getattr(self, name, plain[name]) for name in plain}
        return {**params, "alpha": self.alpha, "warm_start": False}

    def fit_options(self) -> FitOptions:
        """The parameters as validated ``FitOptions`` (alpha is the grid's, per model)."""
        kept = {f.name for f in option_fields()} - set(NOT_FOR_GRID)
        return FitOptions(**{name: getattr(self, name) for name in sorted(kept)})

    def _validate_grid(self) -> None:
        if not isinstance(self.cv, int) or isinstance(self.cv, bool) or self.cv < 2:
            raise ConfigError(f"cv must be an integer >= 2, got {self.cv!r}")
        if self.scoring not in SCORINGS:
            raise ConfigError(f"scoring must be one of {SCORINGS}, got {self.scoring!r}")
        checked_alphas(self.alphas)

    def fit(self, X, y=None, sample_weight=None, *, validation=None):
        """Cross-validate the grid and keep the best alpha's model on all rows.

        ``validation`` — ``read_parquet`` data, or a tuple (X, y) or (X, y, w) — replaces
        the folds: every alpha's all-rows model is scored on it (one pass over it), and
        ``scores_`` has one column.
        """
        options = self.fit_options()
        self._validate_grid()
        alphas = checked_alphas(self.alphas)
        with connect(self.client, in_process=fits_in_process(X, y, sample_weight)) as client:
            X = original = self._sized(X, client)
            X, y, sample_weight, names, classes, check_chunks = self._training_data(
                X, y, sample_weight, client
            )
            layout = data_layout(original)
            check_formula_intercept(original, options.fit_intercept)
            width = X.shape[1] if layout is None else layout.width
            levels = original.levels if isinstance(original, ParquetData) else ()
            held_out = None
            if validation is not None:
                held_out = _validation_data(validation, classes, levels)
            result = train_grid(
                X,
                y,
                sample_weight,
                alphas=alphas,
                n_folds=0 if held_out else self.cv,
                scoring=self.scoring,
                seed=int(self.seed),
                validation=held_out,
                feature_names=names,
                penalty=penalty_shape(options, names, width, classes),
                layout=layout,
                **self._grid_options(options, client, check_chunks, classes),
            )
        scored = (lambda m: m.fold == ALL_ROWS) if held_out else (lambda m: m.fold != ALL_ROWS)
        scores = np.array(
            [[m.score for m in result.models if m.alpha == a and scored(m)] for a in alphas]
        )
        mean = scores.mean(axis=1)
        best = int(np.nanargmax(mean) if self.scoring == "roc_auc" else np.nanargmin(mean))
        chosen = [m for m in result.models if m.fold == ALL_ROWS][best]
        self.alphas_, self.scores_, self.mean_scores_ = alphas, scores, mean
        self.alpha_ = float(alphas[best])
        self.path_ = _path_of(result, alphas)
        source = original if isinstance(original, ParquetData) else None
        fitted = _chosen_result(chosen, result)
        self._set_fitted(fitted, classes, names, (X, y, sample_weight, source))
        self.selection_ = {
            "alphas": alphas.tolist(),
            "cv": "validation data" if held_out else self.cv,
            "scoring": self.scoring,
            "seed": int(self.seed),
            "scores": scores.tolist(),
            "mean_scores": mean.tolist(),
            "alpha": self.alpha_,
            "path": self.path_.as_dict(),
        }
        return self

    def _grid_options(self, options: FitOptions, client, check_chunks: bool, classes) -> dict:
        by_index = class_weight_by_index(options.class_weight, classes)
        return {
            "options": replace(options, class_weight=by_index),
            "n_classes": len(classes),
            "client": client,
            "check_chunks": check_chunks,
            "progress": PassProgress() if self.verbose else None,
        }


def _chosen_result(chosen: ModelFit, result: GridResult) -> FitResult:
    """The chosen model of a grid as the ``FitResult`` of a single fit."""
    assert chosen.coef is not None and chosen.intercept is not None  # fitted by train_grid
    return FitResult(
        coef=chosen.coef,
        intercept=chosen.intercept,
        converged=chosen.converged,
        n_iter=chosen.n_iter,
        n_passes=result.n_passes,
        history=chosen.history,
        message=chosen.message,
        solver=result.solver,
        cache=result.cache,
        rows=result.rows,
        statistics=chosen.statistics,
    )


def _validation_data(validation, classes: np.ndarray, levels=()) -> tuple:
    """(X, class indices, w, check_chunks) of validation data, with the training classes
    (and the training data's categorical ``levels``)."""
    if isinstance(validation, ParquetData):
        if levels or validation.levels:
            validation = validation.with_levels(levels)
        unknown = np.setdiff1d(validation.classes, classes)
        if unknown.size:
            raise ConfigError(
                f"the validation data has labels {unknown.tolist()} the training data has not"
            )
        # its label indices are over its own classes: map them onto the training classes
        index = np.searchsorted(classes, validation.classes).astype(np.float64)
        y = validation.y.map_blocks(lambda part: index[part.astype(np.intp)], dtype=np.float64)
        return validation.X, y, validation.sample_weight, False
    if not isinstance(validation, tuple) or len(validation) not in (2, 3):
        raise TypeError("validation must be read_parquet data or a tuple (X, y) or (X, y, w)")
    X, y, *rest = validation
    w = rest[0] if rest else None
    y = labels_of(y)
    if isinstance(y, da.Array):
        y = y.map_blocks(index_in, classes, dtype=np.float64)
        return X, y, w, True
    labels = label_values(np.asarray(y))
    unknown = np.setdiff1d(labels, classes)
    if unknown.size:
        raise ConfigError(f"the validation labels {unknown.tolist()} are not training classes")
    y = index_in(labels, classes)
    X, y, w = checked_numpy(np.asarray(X), y, w, len(classes))
    return X, y, w, False


def fit_path(
    X,
    y=None,
    sample_weight=None,
    *,
    alphas: Sequence[float] | None = None,
    **params: Any,
) -> RegularizationPath:
    """Fit every alpha of ``alphas`` on all rows in the same passes (``dasklr.fit.grid``).

    ``params`` are ``LogisticRegression``'s (``solver``, ``standardize``, ``client``…).
    The path costs about the passes of its slowest model, not their sum.
    """
    grid = checked_alphas(alphas)
    model = LogisticRegressionCV(alphas=grid, **params)
    options = model.fit_options()
    with connect(model.client, in_process=fits_in_process(X, y, sample_weight)) as client:
        X, y, sample_weight, _, classes, check_chunks = model._training_data(
            X, y, sample_weight, client
        )
        result = train_grid(
            X,
            y,
            sample_weight,
            alphas=grid,
            **model._grid_options(options, client, check_chunks, classes),
        )
    return _path_of(result, grid)
