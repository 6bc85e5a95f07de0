"""The quasi-separation kernel: how many rows the fitted model puts at a
probability of (nearly) 0 or 1.
"""

from dataclasses import dataclass

import numpy as np

from dasklr.kernels.design import Layout, design_of, times
from dasklr.kernels.numerics import sigmoid

#: A fitted probability within this of 0 or 1 counts as certain (``extreme_sums``).
EXTREME_PROBABILITY = 1e-8


@dataclass(frozen=True)
class ExtremeSums:
    """Σw of the rows fitted at a probability of (nearly) 0 or 1, and Σw of all rows."""

    certain: float
    weight: float

    def __add__(self, other: "ExtremeSums") -> "ExtremeSums":
        return ExtremeSums(self.certain + other.certain, self.weight + other.weight)

    @property
    def share(self) -> float:
        return self.certain / self.weight


def extreme_sums(
    X, y, sample_weight, coef: np.ndarray, intercept: float, layout: Layout | None = None
) -> ExtremeSums:
    """One chunk's ``ExtremeSums`` at (coef, intercept): a chunk kernel."""
    z = times(design_of(np.asarray(X, dtype=np.float64), layout), coef) + intercept
    w = np.ones(z.size) if sample_weight is None else np.asarray(sample_weight, np.float64)
    # σ(−|z|) is the smaller of p and 1 − p, without cancellation near 1
    certain = sigmoid(-np.abs(z)) < EXTREME_PROBABILITY
    return ExtremeSums(float(w @ certain), float(w.sum()))
