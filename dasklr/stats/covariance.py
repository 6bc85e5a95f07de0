"""The covariance of a fitted binary model's [features…, intercept], by one more pass.

Newton's last Hessian gives the model-based (``"nonrobust"``) covariance for free. Any
other solver, and the sandwich estimators (``"HC0"``, ``"cluster"``), need sums at the
final coefficients: one tree reduction of ``robust.robust_sums`` gives the Hessian,
the HC0 meat and — with groups — each cluster's summed scores, together.

The bread is the Hessian of the fit's whole objective times Σw: the data part plus,
for an L2 fit, the penalty's W·alpha·(1 − l1_ratio)·σⱼ² per coefficient (σⱼ² = 1
without ``standardize``), the same matrix whose inverse Newton's covariance is.
"""

from dataclasses import replace

import dask.array as da
import numpy as np

from dasklr.data.groups import group_codes
from dasklr.kernels.design import Layout
from dasklr.kernels.robust import RobustSums, robust_sums
from dasklr.passes.cluster import connect
from dasklr.passes.in_process import fits_in_process
from dasklr.passes.runner import PassOptions, on_cluster, passes_over
from dasklr.stats.robust import (
    cluster_covariance,
    drop_intercept,
    keep_only,
    sandwich_covariance,
)

COV_TYPES = ("nonrobust", "HC0", "cluster")


def covariance_sums(
    X,
    y,
    sample_weight,
    groups,
    coef: np.ndarray,
    intercept: float,
    *,
    client=None,
    options: PassOptions | None = None,
    layout: Layout | None = None,
) -> RobustSums:
    """One pass: ``robust_sums`` at (coef, intercept) over every chunk, merged."""
    options = replace(options or PassOptions(), check_chunks=False)
    with connect(client, in_process=fits_in_process(X, y, sample_weight, groups)) as active:
        (X, y, sample_weight), _ = on_cluster(active, X, y, sample_weight)
        n_chunks = X.numblocks[0]
        extra: tuple[dict, list[tuple]] = ({}, [(None,)] * n_chunks)
        if groups is not None:
            codes = _aligned_codes(active, groups, X)
            extra = (dict(codes.__dask_graph__()), [(key,) for key in codes.__dask_keys__()])
        arrays = (X, y, sample_weight)
        with passes_over(active, arrays, options, extra_graph=extra, layout=layout) as (
            run_pass,
            _,
        ):
            return run_pass(_robust_kernel, np.asarray(coef, dtype=np.float64), float(intercept))


def _robust_kernel(X, y, sample_weight, groups, coef, intercept, layout=None) -> RobustSums:
    return robust_sums(X, y, sample_weight, groups, coef, intercept, layout=layout)


def _aligned_codes(client, groups, X: da.Array) -> da.Array:
    """Group codes as an int64 Dask array in the row chunks of X."""
    if isinstance(groups, da.Array):
        if groups.dtype != np.int64:
            groups = groups.map_blocks(group_codes, dtype=np.int64)
    else:
        groups = np.asarray(groups)
        if groups.ndim != 1 or groups.shape[0] != X.shape[0]:
            raise ValueError(f"groups has shape {groups.shape}; expected ({X.shape[0]},)")
        groups = da.from_array(group_codes(groups), chunks=(X.chunks[0],))
        return client.persist(groups)
    if groups.shape[0] != X.shape[0] and not np.isnan(X.shape[0]):
        raise ValueError(f"groups has {groups.shape[0]} rows; X has {X.shape[0]}")
    if groups.chunks[0] != X.chunks[0]:
        groups = groups.rechunk((X.chunks[0],))
    return groups


def covariance(
    sums: RobustSums, penalty: np.ndarray, *, fit_intercept: bool, cov_type: str
) -> np.ndarray:
    """The (d+1)² covariance of [features…, intercept] (d² without intercept).

    ``penalty`` is the per-coefficient curvature of the penalty on the mean loss's
    scale (alpha·(1 − l1_ratio)·σⱼ²); it is multiplied by Σw like the data part. An
    infinite curvature marks a coefficient held fixed (an offset's, at 1): it is not
    estimated, so its rows and columns are 0 and the others' are those of the model
    without it.
    """
    if not fit_intercept:
        sums = drop_intercept(sums)
    keep = _estimated(penalty, sums.hessian.shape[0])
    cut = keep_only(sums, keep)
    bread = bread_of(cut, penalty[keep[keep < penalty.size]])
    if cov_type == "nonrobust":
        cov = _symmetric_inverse(bread)
    elif cov_type == "HC0":
        cov = sandwich_covariance(bread, cut.meat)
    elif cut.group_scores is None:
        raise ValueError("cov_type='cluster' needs groups")
    else:
        cov = cluster_covariance(bread, cut.group_scores, cut.rows)
    out = np.zeros_like(sums.hessian)
    out[np.ix_(keep, keep)] = cov
    return out


def _estimated(penalty: np.ndarray, size: int) -> np.ndarray:
    """Indices of the coefficients (and the intercept, last) that were estimated."""
    free = np.ones(size, dtype=bool)
    free[: penalty.size] = np.isfinite(penalty)
    return np.flatnonzero(free)


def bread_of(sums: RobustSums, penalty: np.ndarray) -> np.ndarray:
    """Σw × the Hessian of the fit's objective: the data part plus the L2 penalty's."""
    bread = sums.hessian.copy()
    d = penalty.size
    bread[np.arange(d), np.arange(d)] += sums.weight * penalty
    return bread


def check_identified(sums: RobustSums, penalty: np.ndarray, names, *, fit_intercept: bool) -> None:
    """A clear error naming the features when the bread is singular (no covariance)."""
    from dasklr.stats.diagnostics import singular_directions, singular_message

    sums = sums if fit_intercept else drop_intercept(sums)
    keep = _estimated(penalty, sums.hessian.shape[0])
    features = keep[keep < penalty.size]
    matrix = bread_of(keep_only(sums, keep), penalty[features])
    shown = [names[j] for j in features]
    problems = singular_directions(matrix, shown, fit_intercept=fit_intercept)
    if problems:
        raise ValueError(f"no standard errors: {singular_message(problems)}")


def _symmetric_inverse(matrix: np.ndarray) -> np.ndarray:
    inverse = np.linalg.inv(matrix)
    return (inverse + inverse.T) / 2.0


def expand(cov: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """A d² covariance (no intercept) padded to (d+1)² with zeros for the intercept."""
    if fit_intercept:
        return cov
    out = np.zeros((cov.shape[0] + 1,) * 2)
    out[:-1, :-1] = cov
    return out
