"""Numerically stable logistic functions, valid for every finite margin.

Each formula keeps ``exp`` away from positive arguments, so nothing overflows and
numpy emits no warning even for ``|z|`` of 1e300:

* ``softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|)``
* ``sigmoid(z)`` split by sign: ``1 / (1 + e^-z)`` for z >= 0, ``e^z / (1 + e^z)`` otherwise.
* the per-row log-loss ``softplus(z) - y*z`` is written as
  ``max(z, 0) - y*z + log1p(e^-|z|)``: for y = 1 and large positive z the first two
  terms cancel exactly (the same float), instead of subtracting two huge numbers.
* for K classes, ``logsumexp`` subtracts each row's largest margin before ``exp``, so
  every exponent is <= 0; the softmax is then ``exp(z − logsumexp(z))``.
"""

import numpy as np


def softplus(z: np.ndarray) -> np.ndarray:
    """``log(1 + exp(z))`` without overflow."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` without overflow, split by the sign of ``z``."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_loss_terms(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row ``softplus(z) - y*z``: the negative log-likelihood of labels ``y`` in {0, 1}."""
    return np.maximum(z, 0.0) - y * z + np.log1p(np.exp(-np.abs(z)))


def logsumexp(Z: np.ndarray) -> np.ndarray:
    """Row-wise ``log Σ_k exp(Z[:, k])`` without overflow: the softmax's normaliser."""
    top = Z.max(axis=1)
    return top + np.log(np.exp(Z - top[:, None]).sum(axis=1))


def softmax_loss_terms(Z: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ``logsumexp(z) − z_y`` (the negative log-likelihood) and the softmax of ``Z``.

    ``labels`` are class indices. The largest margin is subtracted first, so the
    exponentials lie in (0, 1] and their sum in [1, K].
    """
    shifted = Z - Z.max(axis=1)[:, None]
    exp = np.exp(shifted)
    total = exp.sum(axis=1)
    rows = np.arange(Z.shape[0])
    terms = np.log(total) - shifted[rows, labels]
    return terms, exp / total[:, None]
