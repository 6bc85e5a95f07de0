"""A fitted model applied to one block of rows: margins, probabilities, classes (pure NumPy,
run on the workers chunk by chunk, or on the driver for NumPy input)."""

import numpy as np

from dasklr.kernels.numerics import logsumexp, sigmoid, softplus


def margins(X: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """(n,) margins for one coefficient row (binary), (n, K) for K rows."""
    if coef.shape[0] == 1:
        return np.asarray(X @ coef[0], dtype=np.float64) + float(intercept[0])
    return np.asarray(X @ coef.T, dtype=np.float64) + intercept


def probabilities(X: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    z = margins(X, coef, intercept)
    if coef.shape[0] == 1:
        p1 = sigmoid(z)
        return np.column_stack([1.0 - p1, p1])
    return np.exp(z - logsumexp(z)[:, None])


def log_probabilities(X: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """log P(class): binary log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z);
    softmax z − logsumexp(z). Never the log of a probability rounded to 0."""
    z = margins(X, coef, intercept)
    if coef.shape[0] == 1:
        return np.column_stack([-softplus(z), -softplus(-z)])
    return z - logsumexp(z)[:, None]


def predict_classes(X: np.ndarray, coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray):
    z = margins(X, coef, intercept)
    index = (z > 0).astype(np.intp) if coef.shape[0] == 1 else z.argmax(axis=1)
    return classes[index]


def take(index: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The labels of class indices."""
    return classes[index.astype(np.intp)]
