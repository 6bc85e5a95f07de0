"""The options of a fit, declared once: type, default, check and meaning of each.

``FitOptions`` is the problem object every layer reads: ``LogisticRegression``'s and
``LogisticRegressionCV``'s parameters are its fields (``estimator_params``), the driver
takes one, and the config's ``model.*`` and ``cluster.*`` keys are generated from the
same fields (``config.KEYS``). Building one validates it, so a bad value fails before
any work with a message that names the option.
"""

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from numbers import Integral, Real
from typing import Any

from dasklr.errors import ConfigError

#: Fan-in of the reduction tree: 8 partials (a few KB each) per combine task.
DEFAULT_SPLIT_EVERY = 8
#: A pass fails when the cluster has had no worker for this many seconds.
DEFAULT_WORKER_TIMEOUT = 60.0
CACHE_CHOICES = ("auto", "memory", "disk", "none")
SOLVER_NAMES = ("auto", "gd", "lbfgs", "newton")
SCORINGS = ("log_loss", "roc_auc")

Check = Callable[[Any], str | None]


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def at_least(low: float, *, strict: bool = False, integer: bool = False) -> Check:
    """A finite number (an integer with ``integer``) >= low (> low with ``strict``)."""
    kind = "an integer" if integer else "a number"
    phrase = f"must be {kind} {'>' if strict else '>='} {low:g}"

    def check(value):
        typed = isinstance(value, Integral) and not isinstance(value, bool) if integer else _number
        if integer and not typed:
            return phrase
        if not integer and not _number(value):
            return phrase
        ok = (value > low if strict else value >= low) and math.isfinite(value)
        return None if ok else phrase

    return check


def between(low: float, high: float, *, open_ends: bool = False) -> Check:
    brackets = "()" if open_ends else "[]"
    phrase = f"must be in {brackets[0]}{low:g}, {high:g}{brackets[1]}"

    def check(value):
        if not _number(value):
            return phrase
        ok = low < value < high if open_ends else low <= value <= high
        return None if ok else phrase

    return check


def one_of(choices) -> Check:
    return lambda value: None if value in choices else f"must be one of {list(choices)}"


def boolean(value) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def optional_text(value) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a string or None"


def class_weights(value) -> str | None:
    """None, "balanced", a dict {label: weight} or a tuple by class index, weights > 0."""
    if value is None or value == "balanced":
        return None
    weights = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict | tuple) and all(_number(w) and 0 < w < math.inf for w in weights):
        return None
    return "must be None, 'balanced' or a dict {label: weight} of finite weights > 0"


def penalty_factors(value) -> str | None:
    """None or a dict {feature name: factor} of finite factors >= 0."""
    if value is None:
        return None
    if isinstance(value, dict) and all(
        isinstance(k, str) and _number(v) and 0 <= v < math.inf for k, v in value.items()
    ):
        return None
    return "must be None or a table {feature = factor} of finite factors >= 0"


def coefficient_bounds(value) -> str | None:
    """None or a dict {feature name: (low, high)} with low <= high; None or ±inf for an
    open side."""
    problem = "must be None or a table {feature = [low, high]} with low <= high"
    if value is None:
        return None
    if not isinstance(value, dict):
        return problem
    for name, pair in value.items():
        if not isinstance(name, str) or not isinstance(pair, list | tuple) or len(pair) != 2:
            return problem
        low, high = (
            (-math.inf if pair[0] is None else pair[0]),
            (math.inf if pair[1] is None else pair[1]),
        )
        if not (_number(low) and _number(high)) or math.isnan(low) or math.isnan(high):
            return problem
        if low > high:
            return problem
    return None


def model_or_path(value) -> str | None:
    """None, a saved model's folder or URL, or a fitted model (with ``coef_``)."""
    if value is None or isinstance(value, str | os.PathLike) or hasattr(value, "coef_"):
        return None
    return "must be a saved model's folder or URL, or a fitted model"


def option(default, check: Check, doc: str, *, config: str | None = None, kind: str = ""):
    """A field of ``FitOptions``: ``config`` is its config key (None: not in configs) and
    ``kind`` the TOML type the config accepts."""
    return field(
        default=default, metadata={"check": check, "doc": doc, "config": config, "kind": kind}
    )


@dataclass(frozen=True)
class FitOptions:
    """Every option of a fit, validated when built (``ConfigError`` naming the option)."""

    alpha: float = option(0.0, at_least(0), "penalty strength", config="model.alpha", kind="number")
    l1_ratio: float = option(
        0.0,
        between(0, 1),
        "share of L1 in the penalty, 0 to 1 (not with solver gd)",
        config="model.l1_ratio",
        kind="number",
    )
    fit_intercept: bool = option(
        True, boolean, "fit an unpenalised intercept", config="model.fit_intercept", kind="boolean"
    )
    solver: str = option(
        "auto",
        one_of(SOLVER_NAMES),
        "auto, newton, lbfgs or gd",
        config="model.solver",
        kind="string",
    )
    tol: float = option(
        1e-6,
        at_least(0, strict=True),
        "stop when the max-norm of the gradient <= tol",
        config="model.tol",
        kind="number",
    )
    max_iter: int = option(
        100, at_least(0, integer=True), "iteration limit", config="model.max_iter", kind="integer"
    )
    split_every: int = option(
        DEFAULT_SPLIT_EVERY,
        at_least(2, integer=True),
        "fan-in of the reduction tree",
        config="model.split_every",
        kind="integer",
    )
    standardize: bool = option(
        False,
        boolean,
        "fit on standardised features; coef_ in original units",
        config="model.standardize",
        kind="boolean",
    )
    class_weight: str | dict | tuple | None = option(
        None,
        class_weights,
        '"balanced" or a table {label = weight, ...}; multiplies the sample weights',
        config="model.class_weight",
        kind="class weights",
    )
    cache: str = option(
        "auto",
        one_of(CACHE_CHOICES),
        "where decoded chunks live between passes: auto, memory, disk or none",
        config="model.cache",
        kind="string",
    )
    cache_dir: str | None = option(
        None,
        optional_text,
        "base folder of the disk cache on each worker; default: its temp folder",
        config="model.cache_dir",
        kind="string",
    )
    retries: int = option(
        2,
        at_least(0, integer=True),
        "times a failed task (e.g. a transient read error) is run again",
        config="cluster.retries",
        kind="integer",
    )
    worker_timeout: float = option(
        DEFAULT_WORKER_TIMEOUT,
        at_least(0, strict=True),
        "seconds without any worker before a pass fails instead of waiting",
        config="cluster.worker_timeout",
        kind="number",
    )
    early_stopping: bool = option(
        False,
        boolean,
        "hold out model.validation_fraction of the rows (by row-index hash) and keep the "
        "iteration with the lowest held-out log-loss (for lbfgs and gd)",
        config="model.early_stopping",
        kind="boolean",
    )
    validation_fraction: float = option(
        0.1,
        between(0, 1, open_ends=True),
        "share of rows held out by model.early_stopping",
        config="model.validation_fraction",
        kind="number",
    )
    n_iter_no_change: int = option(
        5,
        at_least(1, integer=True),
        "iterations without a lower held-out loss before early stopping",
        config="model.n_iter_no_change",
        kind="integer",
    )

    penalty_factor: dict | None = option(
        None,
        penalty_factors,
        "multiplies alpha per feature, {name = factor}; 0 leaves a control variable "
        "unpenalised (others: 1)",
        config="model.penalty_factor",
        kind="number table",
    )
    prior_model: Any = option(
        None,
        model_or_path,
        "a saved model (folder or URL) whose coefficients pull the fit, by prior_strength",
        config="model.prior_model",
        kind="string",
    )
    prior_strength: float = option(
        0.0,
        at_least(0),
        "λ of ½·λ·‖coef − prior coef‖² added to the objective (its units, as alpha)",
        config="model.prior_strength",
        kind="number",
    )

    bounds: dict | None = option(
        None,
        coefficient_bounds,
        "bounds of coefficients, {name = [low, high]} (-inf/inf: open), e.g. a price "
        "coefficient <= 0; binary models, solvers newton and lbfgs",
        config="model.bounds",
        kind="bounds table",
    )

    offset: str | None = option(
        None,
        optional_text,
        "feature column added to every row's log-odds as is (its coefficient held at 1): "
        "an exposure or a known effect; binary models",
        config="data.offset",
        kind="string",
    )

    def __post_init__(self) -> None:
        for name, problem in problems(self):
            raise ConfigError(f"{name} {problem}, got {getattr(self, name)!r}")
        if (self.bounds or self.offset) and self.solver == "gd":
            raise ConfigError(
                "bounds and offsets need solver 'newton', 'lbfgs' or 'auto', not 'gd'"
            )
        if self.prior_strength > 0 and self.prior_model is None:
            raise ConfigError("prior_strength > 0 needs a prior_model to pull towards")

    @property
    def l1(self) -> float:
        """Strength of the L1 part: alpha·l1_ratio."""
        return self.alpha * self.l1_ratio


def problems(options: FitOptions):
    """(name, problem) for every option whose value its check refuses."""
    for f in fields(options):
        problem = f.metadata["check"](getattr(options, f.name))
        if problem:
            yield f.name, problem


#: The options that a model selected by cross-validation does not take (``LogisticRegressionCV``).
NOT_FOR_GRID = ("alpha", "early_stopping", "validation_fraction", "n_iter_no_change")


def option_fields() -> tuple:
    """The dataclass fields of ``FitOptions``, in order."""
    return fields(FitOptions)


def defaults() -> dict[str, Any]:
    return {f.name: f.default for f in option_fields()}
