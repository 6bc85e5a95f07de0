"""A fitted model applied to one block of rows: margins, probabilities, classes (pure NumPy,
run on the workers chunk by chunk, or on the driver for NumPy input)."""

import numpy as np

from dasklr.kernels.blocks import GRAM_BLOCK_ROWS
from dasklr.kernels.design import Design, Layout, design_of, times
from dasklr.kernels.numerics import logsumexp, sigmoid, softplus


def margins(X, coef: np.ndarray, intercept: np.ndarray, layout: Layout | None = None):
    """(n,) margins for one coefficient row (binary), (n, K) for K rows. ``layout``: X
    holds categorical columns as level codes (``kernels.design``)."""
    X = design_of(X, layout)
    if coef.shape[0] == 1:
        return times(X, coef[0]) + float(intercept[0])
    return times(X, coef.T) + intercept


def probabilities(X, coef: np.ndarray, intercept: np.ndarray, layout: Layout | None = None):
    z = margins(X, coef, intercept, layout)
    if coef.shape[0] == 1:
        p1 = sigmoid(z)
        return np.column_stack([1.0 - p1, p1])
    return np.exp(z - logsumexp(z)[:, None])


def log_probabilities(X, coef: np.ndarray, intercept: np.ndarray, layout: Layout | None = None):
    """log P(class): binary log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z);
    softmax z − logsumexp(z). Never the log of a probability rounded to 0."""
    z = margins(X, coef, intercept, layout)
    if coef.shape[0] == 1:
        return np.column_stack([-softplus(z), -softplus(-z)])
    return z - logsumexp(z)[:, None]


def predict_classes(X, coef, intercept, classes: np.ndarray, layout: Layout | None = None):
    z = margins(X, coef, intercept, layout)
    index = (z > 0).astype(np.intp) if coef.shape[0] == 1 else z.argmax(axis=1)
    return classes[index]


def margin_std(X, cov: np.ndarray, layout: Layout | None = None) -> np.ndarray:
    """(n,) standard errors of the margins of a binary model, √(aᵀ·C·a) with a = [x, 1]
    and C the (d+1)² covariance of [θ, b] (the delta method: the margin is linear in
    them). Expanded as xᵀ·C_θθ·x + 2·xᵀ·C_θb + C_bb, so no (n, d+1) copy is made; with
    categorical columns, the one-hot design of a block of rows at a time."""
    X = design_of(np.asarray(X, dtype=np.float64), layout)
    if isinstance(X, Design):
        n = X.shape[0]
        blocks = [np.arange(n)[s : s + GRAM_BLOCK_ROWS] for s in range(0, n, GRAM_BLOCK_ROWS)]
        parts = [margin_std(X.rows(b).dense(), cov) for b in blocks]
        return np.concatenate(parts) if parts else np.zeros(0)
    d = X.shape[1]
    quadratic = np.einsum("ij,ij->i", X @ cov[:d, :d], X) + 2.0 * (X @ cov[:d, d]) + cov[d, d]
    return np.sqrt(np.maximum(quadratic, 0.0))


def probability_interval(
    X, coef, intercept, cov: np.ndarray, quantile: float, layout: Layout | None = None
) -> np.ndarray:
    """(n, 2) lower and upper confidence bounds of P(class 1): σ(z ∓ q·se(z)), the
    margin's interval mapped through the sigmoid (inside (0, 1), as statsmodels'
    ``get_prediction`` gives for a logit)."""
    z = margins(X, coef, intercept, layout)
    spread = quantile * margin_std(X, cov, layout)
    return np.column_stack([sigmoid(z - spread), sigmoid(z + spread)])


def take(index: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The labels of class indices."""
    return classes[index.astype(np.intp)]
