"""Sandwich (HC0) and cluster-robust covariance of a binary logistic fit, from chunk sums.

The model-based covariance H⁻¹ is only right when the model is; the sandwich
H⁻¹·M·H⁻¹ stays consistent when it is not (White's HC0), and summing scores within a
cluster before the outer product (CRV1) allows any correlation inside a cluster. Both
are sums over rows, so each chunk returns raw sums and partials merge by addition:

* bread: H = Σ w·h(1−h)·x̃x̃ᵀ, the Hessian of the negative log-likelihood;
* HC0 meat: M = Σ gᵢgᵢᵀ with the row score gᵢ = wᵢ·(hᵢ − yᵢ)·x̃ᵢ;
* cluster meat: Σ_c s_c s_cᵀ with s_c = Σ_{i∈c} gᵢ, so each chunk keeps s_c per
  cluster key and merging adds the scores of the keys two partials share.

Here h = σ(x·θ + b), x̃ = [x, 1] (intercept last, as ``kernels.gram``), and every sum is
float64. Weights are sampling weights: row i's score is wᵢ·(hᵢ − yᵢ)·x̃ᵢ, so the meat
holds w², not w — integer weights are *not* the same as repeated rows there (they are
for H and for the per-cluster scores).
"""

import numpy as np

from dasklr.kernels.robust import RobustSums


def keep_only(sums: RobustSums, keep: np.ndarray) -> RobustSums:
    """The sums over the coefficients ``keep`` (indices into [features…, intercept]):
    those of the estimated ones, when some are held fixed (an offset's)."""
    return RobustSums(
        hessian=sums.hessian[np.ix_(keep, keep)],
        meat=sums.meat[np.ix_(keep, keep)],
        group_keys=sums.group_keys,
        group_scores=None if sums.group_scores is None else sums.group_scores[:, keep],
        rows=sums.rows,
        weight=sums.weight,
    )


def drop_intercept(sums: RobustSums) -> RobustSums:
    """The sums of a model without intercept: the last row and column go.

    Call ``robust_sums`` with ``intercept=0.0``; since x̃ = [x, 1], dropping the
    intercept's entries leaves exactly the sums over x alone, and K becomes d.
    """
    return RobustSums(
        hessian=sums.hessian[:-1, :-1],
        meat=sums.meat[:-1, :-1],
        group_keys=sums.group_keys,
        group_scores=None if sums.group_scores is None else sums.group_scores[:, :-1],
        rows=sums.rows,
        weight=sums.weight,
    )


def sandwich_covariance(hessian: np.ndarray, meat: np.ndarray) -> np.ndarray:
    """H⁻¹·M·H⁻¹, by two solves (no explicit inverse), made exactly symmetric.

    With the ``robust_sums`` pieces this is statsmodels' ``cov_type="HC0"`` for Logit
    (``cov_white_simple(use_correction=False)``: no small-sample factor).
    """
    try:
        left = np.linalg.solve(hessian, meat)  # H⁻¹·M
        cov = np.linalg.solve(hessian, left.T)  # H⁻¹·(H⁻¹·M)ᵀ = H⁻¹·M·H⁻¹, M and H symmetric
    except np.linalg.LinAlgError as error:
        raise np.linalg.LinAlgError(
            f"the {hessian.shape[0]}×{hessian.shape[0]} Hessian is singular: a constant or "
            "collinear feature, or classes separated perfectly"
        ) from error
    return (cov + cov.T) / 2.0


def cluster_covariance(hessian: np.ndarray, group_scores: np.ndarray, nobs: int) -> np.ndarray:
    """Cluster-robust (CRV1) covariance: H⁻¹·(Σ_g s_g s_gᵀ)·H⁻¹ times G/(G−1)·(N−1)/(N−K).

    The factor is statsmodels' default for ``fit(cov_type="cluster")``
    (``use_correction=True``; ``stats/sandwich_covariance.py``, ``cov_cluster``):
    G clusters, N = ``nobs`` rows (statsmodels counts rows, not weights; pass
    ``RobustSums.rows``) and K = number of parameters, ``hessian.shape[0]`` — d + 1, or
    d after ``drop_intercept``.
    """
    n_groups, n_params = group_scores.shape
    if n_params != hessian.shape[0]:
        raise ValueError(
            f"expected group scores with {hessian.shape[0]} columns (the Hessian's size), "
            f"got {n_params}"
        )
    if n_groups < 2 or nobs <= n_params:
        raise ValueError(
            f"cluster-robust covariance needs at least 2 clusters and more rows than the "
            f"{n_params} parameters, got {n_groups} clusters and {nobs} rows"
        )
    meat = group_scores.T @ group_scores
    correction = n_groups / (n_groups - 1.0) * (nobs - 1.0) / (nobs - n_params)
    return sandwich_covariance(hessian, meat) * correction
