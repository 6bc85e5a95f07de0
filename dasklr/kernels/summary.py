"""The first pass's kernel: sums that do not depend on the coefficients.

Σw, Σw·y, weighted means and spreads of x, Σw·y·x and (for Newton) Σw·x·xᵀ: at θ = 0
every row has the same σ(b), so these give the loss, gradient and Hessian at the
log-odds start, and the feature means and variances for standardisation, in one pass.
"""

from dataclasses import dataclass

import numpy as np

from dasklr.kernels.blocks import GRAM_BLOCK_ROWS, sampled_blocks
from dasklr.kernels.design import (
    Design,
    Layout,
    design_of,
    gram_weight,
    transposed,
    weighted_gram,
)
from dasklr.kernels.logistic import float64_rows


@dataclass(frozen=True)
class SummarySums:
    """First-pass sums, independent of the coefficients (see the module docstring).

    Feature spreads are kept as weighted means and sums of squared deviations from them
    (``spread`` = Σw·(x − mean)²), merged by Chan's formula: Σw·x² − W·mean² would lose
    every digit of a feature whose mean is large against its spread. ``spread`` is None
    when not asked for (Newton without standardisation needs none). ``moments`` is
    Σw·[x, 1][x, 1]ᵀ when asked for (Newton's first step), else None.
    """

    weight: float
    weighted_labels: float | np.ndarray
    rows: int
    mean: np.ndarray
    spread: np.ndarray | None
    label_first: np.ndarray
    moments: np.ndarray | None
    #: Σw over the rows ``moments`` sums (``sampled_blocks``): moments / moments_weight
    #: estimates the mean of [x, 1][x, 1]ᵀ
    moments_weight: float = 0.0

    @property
    def first(self) -> np.ndarray:
        """Σw·x."""
        return self.mean * self.weight

    def __add__(self, other: "SummarySums") -> "SummarySums":
        weight = self.weight + other.weight
        if self.spread is None:  # means only
            share = other.weight / weight if weight else 0.0
            mean, spread = self.mean + (other.mean - self.mean) * share, None
        elif self.weight == 0 or other.weight == 0:
            mean = self.mean if other.weight == 0 else other.mean
            spread = self.spread + other.spread
        else:
            delta = other.mean - self.mean
            mean = self.mean + delta * (other.weight / weight)
            spread = self.spread + other.spread + delta**2 * (self.weight * other.weight / weight)
        return SummarySums(
            weight=weight,
            weighted_labels=self.weighted_labels + other.weighted_labels,
            rows=self.rows + other.rows,
            mean=mean,
            spread=spread,
            label_first=self.label_first + other.label_first,
            moments=None if self.moments is None else self.moments + other.moments,
            moments_weight=self.moments_weight + other.moments_weight,
        )


def summary_sums(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    full_moments: bool,
    n_classes: int = 2,
    moments_stride: int = 1,
    spreads: bool = True,
    layout: Layout | None = None,
) -> SummarySums:
    """Σw, Σw·y, weighted means and spreads, Σw·y·x and optionally Σw·[x, 1][x, 1]ᵀ (over
    every ``moments_stride``-th block of rows: ``sampled_blocks``).

    For K > 2 classes, ``weighted_labels`` is Σw per class (K,) and ``label_first`` is
    Σw·x per class (K, d). One product gives Σw·x and Σw·y·x together; the spreads are
    then summed block by block in one reused buffer, while each block is in cache. A
    level's column (``layout``) is 0 or 1: its spread follows from its mean.
    """
    X = design_of(float64_rows(X), layout)
    n, d = X.shape
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if n_classes > 2:
        labels = y.astype(np.intp)
        by_class = np.zeros((n, n_classes + 1))
        by_class[np.arange(n), labels + 1] = w
        by_class[:, 0] = w
        weighted_labels = by_class[:, 1:].sum(axis=0)
    else:
        by_class = np.column_stack([w, w * y])
        weighted_labels = float(w @ y)
    sums = transposed(X, by_class)
    label_first = sums[:, 1] if n_classes == 2 else sums[:, 1:].T.copy()
    weight = float(w.sum())
    mean = sums[:, 0] / weight if weight > 0 else np.zeros(d)
    spread = _spreads(X, w, mean, weight) if spreads else None
    moments = weighted_gram(X, w, moments_stride, w) if full_moments else None
    return SummarySums(
        weight=weight,
        weighted_labels=weighted_labels,
        rows=int(n),
        mean=mean,
        spread=spread,
        label_first=label_first,
        moments=moments,
        moments_weight=gram_weight(X, w, moments_stride, weight) if full_moments else 0.0,
    )


def _spreads(X, w: np.ndarray, mean: np.ndarray, weight: float) -> np.ndarray:
    """Σw·(x − mean)² per column, block by block in one reused buffer (deviations from
    the chunk's mean); for a level's 0/1 column with weighted share m of ones, W·m·(1 − m)."""
    numeric = X.numeric if isinstance(X, Design) else X
    n, d = numeric.shape
    spread = np.zeros(X.shape[1])
    buffer = np.empty((min(n, GRAM_BLOCK_ROWS), d), order="F")
    for block in sampled_blocks(n):
        deviation = np.subtract(numeric[block], mean[:d], out=buffer[: len(range(n)[block])])
        np.multiply(deviation, deviation, out=deviation)
        spread[:d] += deviation.T @ w[block]
    if isinstance(X, Design):
        share = mean[d:]
        spread[d:] = weight * share * (1.0 - share)
    return spread
