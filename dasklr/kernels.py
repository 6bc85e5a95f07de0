"""The chunk kernel: raw sums of one chunk of rows for the current coefficients.

Pure NumPy, no Dask: every sum is un-normalised, so partials from any number of chunks
merge by plain addition, and the tree shape cannot change what they mean. The driver
divides by the total weight and adds the penalty once, at the top.
"""

from dataclasses import dataclass

import numpy as np

from dasklr.numerics import log_loss_terms, sigmoid


@dataclass(frozen=True)
class LogisticSums:
    """Sums over rows of ``w·[softplus(z) − y·z]``, ``w·(σ(z) − y)·x``, ``w·(σ(z) − y)``, ``w``."""

    loss: float
    grad_coef: np.ndarray
    grad_intercept: float
    weight: float
    rows: int

    def __add__(self, other: "LogisticSums") -> "LogisticSums":
        return LogisticSums(
            loss=self.loss + other.loss,
            grad_coef=self.grad_coef + other.grad_coef,
            grad_intercept=self.grad_intercept + other.grad_intercept,
            weight=self.weight + other.weight,
            rows=self.rows + other.rows,
        )


def logistic_sums(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    coef: np.ndarray,
    intercept: float,
) -> LogisticSums:
    """Loss and gradient sums of one chunk in one sweep over ``X``.

    The margins are computed once, turned into the multiplier ``w·(σ(z) − y)``, and one
    transposed product gives the gradient. Accumulates in float64 whatever ``X`` holds.
    """
    # A chunk that crossed the network may sit at an odd address; NumPy then skips BLAS
    # and sums in another order, which would break bit-identical reruns.
    X = np.require(X, requirements="A")
    z = X @ coef
    z = z.astype(np.float64, copy=False) + intercept
    y = np.asarray(y, dtype=np.float64)
    residual = sigmoid(z) - y
    terms = log_loss_terms(z, y)
    if sample_weight is None:
        weight = float(z.shape[0])
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        residual *= w
        terms *= w
        weight = float(w.sum())
    return LogisticSums(
        loss=float(terms.sum()),
        grad_coef=np.asarray(X.T @ residual, dtype=np.float64),
        grad_intercept=float(residual.sum()),
        weight=weight,
        rows=int(z.shape[0]),
    )


def merge_sums(*parts: LogisticSums) -> LogisticSums:
    """Add partial sums left to right, so the same inputs always give the same bits."""
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total
