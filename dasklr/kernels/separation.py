"""The quasi-separation kernel: how many rows the fitted model puts at a
probability of (nearly) 0 or 1.
"""

import numpy as np

from dasklr.kernels.numerics import sigmoid

#: A fitted probability within this of 0 or 1 counts as certain (``extreme_sums``).
EXTREME_PROBABILITY = 1e-8


def extreme_sums(X, y, sample_weight, coef: np.ndarray, intercept: float) -> np.ndarray:
    """One chunk's [Σw of rows fitted at probability 0 or 1, Σw]: a chunk kernel."""
    z = np.asarray(np.asarray(X, dtype=np.float64) @ coef, dtype=np.float64) + intercept
    w = np.ones(z.size) if sample_weight is None else np.asarray(sample_weight, np.float64)
    # σ(−|z|) is the smaller of p and 1 − p, without cancellation near 1
    certain = sigmoid(-np.abs(z)) < EXTREME_PROBABILITY
    return np.array([float(w @ certain), float(w.sum())])
