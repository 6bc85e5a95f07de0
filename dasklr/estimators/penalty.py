"""Penalty factors, a prior model and coefficient bounds, given by feature name, as the driver's
``PenaltyShape`` over the columns of this fit.

Names are matched, not positions: a factor for a feature the data does not have is an
error naming it (with the closest name); a prior model's coefficients are aligned by
name, and features it does not have are pulled towards 0.
"""

import difflib
import os
from collections.abc import Sequence

import numpy as np

from dasklr.errors import ConfigError
from dasklr.estimators.persistence import read_model
from dasklr.fit.objective import PenaltyShape
from dasklr.options import FitOptions


def penalty_shape(
    options: FitOptions,
    feature_names: Sequence[str] | None,
    n_features: int,
    classes: np.ndarray,
) -> PenaltyShape | None:
    """The shape of the penalty that ``options`` ask for over the features (named x0,
    x1, … when unnamed); None for the plain penalty."""
    names = (
        [f"x{j}" for j in range(n_features)]
        if feature_names is None
        else [str(name) for name in feature_names]
    )
    factor = _factors(options.penalty_factor, names)
    prior = None
    if options.prior_model is not None:
        prior = prior_coefficients(options.prior_model, names, classes)
    low, high = _bounds(options.bounds, names, len(classes))
    if options.offset is not None:
        factor, low, high = _with_offset(options.offset, names, factor, low, high, len(classes))
    if factor is None and prior is None and low is None:
        return None
    return PenaltyShape(
        factor=factor,
        prior_coef=prior,
        prior_strength=options.prior_strength,
        low=low,
        high=high,
    )


def _with_offset(offset: str, names: list[str], factor, low, high, n_classes: int):
    """An offset is a feature whose coefficient is held at 1 and not penalised: the
    factors and bounds with that column's set so."""
    if n_classes > 2:
        raise ConfigError("an offset is for binary models (this one has more classes)")
    if offset not in names:
        close = difflib.get_close_matches(offset, names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"offset '{offset}' is not among the features {names}: it is read as one "
            f"(list it in the features when they are given){hint}"
        )
    j = names.index(offset)
    factor = np.ones(len(names)) if factor is None else factor.copy()
    low = np.full(len(names), -np.inf) if low is None else low.copy()
    high = np.full(len(names), np.inf) if high is None else high.copy()
    factor[j], low[j], high[j] = 0.0, 1.0, 1.0
    return factor, low, high


def _bounds(given: dict | None, names: list[str], n_classes: int):
    """(low, high) over the features (±inf where not bounded), or (None, None)."""
    if not given:
        return None, None
    if n_classes > 2:
        raise ConfigError("bounds are for binary models (this one has more classes)")
    _check_names(given, names, "bounds")
    low, high = np.full(len(names), -np.inf), np.full(len(names), np.inf)
    for name, (lo, hi) in given.items():
        j = names.index(name)
        low[j] = -np.inf if lo is None else float(lo)
        high[j] = np.inf if hi is None else float(hi)
    return low, high


def _factors(given: dict | None, names: list[str]) -> np.ndarray | None:
    if not given:
        return None
    _check_names(given, names, "penalty_factor")
    return np.array([float(given.get(name, 1.0)) for name in names])


def _check_names(given: dict, names: list[str], option: str) -> None:
    unknown = [name for name in given if name not in names]
    if unknown:
        close = difflib.get_close_matches(unknown[0], names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f" (features: {names})"
        raise ConfigError(f"{option} names '{unknown[0]}', which is not a feature{hint}")


def prior_coefficients(prior, names: list[str], classes: np.ndarray) -> np.ndarray:
    """(B, d) coefficients of ``prior`` (a saved model's folder or URL, or a fitted
    model) for the features ``names``, by name; 0 for the features it does not have.
    Its classes must be this fit's."""
    where = os.fspath(prior) if isinstance(prior, str | os.PathLike) else "the prior model"
    if isinstance(prior, str | os.PathLike):
        _, fitted = read_model(prior)
        coef, their_classes = fitted["coef_"], fitted["classes_"]
        their_names = fitted.get("feature_names_in_")
    else:
        coef, their_classes = prior.coef_, prior.classes_
        their_names = getattr(prior, "feature_names_in_", None)
    if list(np.asarray(their_classes).tolist()) != list(np.asarray(classes).tolist()):
        raise ConfigError(
            f"prior_model {where} has classes {np.asarray(their_classes).tolist()}, this fit "
            f"{np.asarray(classes).tolist()}: a prior pulls the same classes' coefficients"
        )
    coef = np.asarray(coef, dtype=np.float64)
    if their_names is None:
        their_names = [f"x{j}" for j in range(coef.shape[1])]
    column = {str(name): j for j, name in enumerate(their_names)}
    aligned = np.zeros((coef.shape[0], len(names)))
    for k, name in enumerate(names):
        if name in column:
            aligned[:, k] = coef[:, column[name]]
    return aligned
