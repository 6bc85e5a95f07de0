"""The statistics a fit leaves for ``summary()``: likelihoods and, from Newton, the
covariance — computed the same way for a single fit and for every model of a grid."""

import numpy as np

from dasklr.fit.objective import LogisticObjective
from dasklr.solvers.state import SolverState
from dasklr.stats.diagnostics import singular_message, warn_singular
from dasklr.stats.inference import FitStatistics


def fit_statistics(
    objective: LogisticObjective, state: SolverState, names=None
) -> FitStatistics | None:
    """What ``LogisticRegression.summary`` needs of a converged binary fit without L1:
    log-likelihoods, the penalty's curvature per coefficient (for the bread of a later
    covariance pass) and, from Newton's last Hessian, the covariance of [θ, b] (None for
    other solvers: ``summary`` then takes one pass). None for other fits, and for a
    state no pass has measured (a resumed fit that was already converged).

    An unpenalised Hessian that is singular (a constant, duplicated or collinear feature)
    gives a ``SingularInformationWarning`` naming the features, and no covariance.
    """
    totals = None if state.evaluation is None else state.evaluation.totals
    if objective.n_classes != 2 or objective.l1 > 0 or not state.converged or totals is None:
        return None
    if objective.bounds is not None:  # a coefficient held at its bound has no interval
        low, high = objective.bounds
        held = (state.params <= low) | (state.params >= high)
        held[: objective.n_features] &= ~objective.fixed  # (a fixed one is not estimated)
        if np.any(held):
            return None
    d, m = objective.n_features, objective.block_size
    s, mu = objective.scaling.inverse_scale, objective.scaling.mean
    W, Y = totals.weight, float(totals.weighted_labels)
    J = np.zeros((d + 1, m))  # ∂(θ, b)/∂(solver parameters), as in LogisticObjective
    J[np.arange(d), np.arange(d)] = s
    J[d, :d] = -s * mu
    if objective.fit_intercept:
        J[d, d] = 1.0
    # a Hessian from a sample of the rows is not the information matrix of all of them
    hessian = state.memory.get("hessian") if objective.hessian_stride == 1 else None
    cov, singular = None, None
    if hessian is not None and not np.any(objective.quadratic):
        problems = warn_singular(
            _original_information(hessian, J[:m, :m]),
            names or [f"x{j}" for j in range(d)],
            fit_intercept=objective.fit_intercept,
            stacklevel=5,
        )
        singular = singular_message(problems) if problems else None
    if hessian is not None and singular is None:
        # the estimated parameters only: a fixed one (an offset's) has no variance
        keep = np.flatnonzero(np.append(~objective.fixed, [True] * (m - d)))
        inverse = np.zeros_like(hessian)
        inverse[np.ix_(keep, keep)] = np.linalg.inv(W * hessian[np.ix_(keep, keep)])
        cov = J @ inverse @ J.T
    llf = -W * (state.objective - objective.penalty(state.params))
    p = Y / W if objective.fit_intercept else 0.5
    llnull = Y * np.log(p) + (W - Y) * np.log1p(-p)
    if objective.fixed.any():  # the null model with an offset is another fit: not known
        llnull = np.nan
    penalty = objective.original_curvature()
    return FitStatistics(
        llf=float(llf),
        llnull=float(llnull),
        nobs=int(totals.rows),
        penalty=penalty,
        cov=cov,
        singular=singular,
    )


def _original_information(hessian: np.ndarray, J: np.ndarray) -> np.ndarray:
    """J⁻ᵀ·H·J⁻¹: the Hessian over the original coefficients, so relations between features
    are stated in their own units (over the solver's, when a constant feature makes J
    singular under ``standardize``)."""
    try:
        inverse = np.linalg.inv(J)
    except np.linalg.LinAlgError:
        return hessian
    return inverse.T @ hessian @ inverse
