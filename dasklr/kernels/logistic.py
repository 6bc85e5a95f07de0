"""Chunk kernels: raw sums of one chunk of rows, pure NumPy, no Dask.

Every sum is un-normalised, so partials from any number of chunks merge by plain
addition and the tree shape cannot change what they mean. The driver divides by the
total weight and adds the penalty once, at the top.

Two kernels:
- ``summary_sums``: what the first pass needs whatever the coefficients — Σw, Σw·y,
  means and spreads of x, Σw·y·x and (for Newton) Σw·x·xᵀ. At θ = 0 every row has
  the same σ(b), so these give the loss, gradient and Hessian at the log-odds start,
  and the feature means and variances for standardisation, in one pass.
- ``logistic_sums``: loss and gradient sums at (θ, b); optionally the Hessian sum over
  the augmented rows [x, 1], and the loss at further points (θ, b) + s·direction along
  a line, so a line search costs no extra pass: the margins of the line are
  z + s·(X·p), from one more product with X.
- ``softmax_sums``: the same for K > 2 classes (multinomial): margins Z = X·Θᵀ + b of
  shape (n, K), loss Σ w·[logsumexp(z) − z_y], gradient (P − Y)ᵀ·w·X of shape (K, d),
  and the K(d+1) × K(d+1) Hessian whose (k, l) block is
  Σ w·p_k·(δ_kl − p_l)·[x, 1][x, 1]ᵀ. Labels reach every kernel as class indices.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from dasklr.kernels.blocks import GRAM_BLOCK_ROWS, gram, sampled_blocks
from dasklr.kernels.design import (
    Design,
    Layout,
    design_of,
    gram_weight,
    times,
    transposed,
    weighted_gram,
)
from dasklr.kernels.numerics import log_loss_terms, sigmoid, softmax_loss_terms


@dataclass(frozen=True)
class LogisticSums:
    """Sums over rows of ``w·[softplus(z) − y·z]``, ``w·(σ(z) − y)·x``, ``w·(σ(z) − y)``, ``w``.

    ``hessian`` (when asked) is Σ w·σ(1−σ)·[x, 1][x, 1]ᵀ; ``step_losses[k]`` is the loss
    sum at the k-th point along the line. From ``softmax_sums`` (K classes),
    ``grad_coef`` is (K, d) and ``grad_intercept`` and ``weighted_labels`` are (K,).
    """

    loss: float
    grad_coef: np.ndarray
    grad_intercept: float | np.ndarray
    weight: float
    rows: int
    hessian: np.ndarray | None = None
    #: Σw·y (per class for K classes): with ``weight``, tells a one-class dataset apart
    weighted_labels: float | np.ndarray = 0.0
    step_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: (Σs·x², Σs·x, Σs) with s = w·σ(1−σ) (per class: w·p_k(1−p_k)): the Hessian's
    #: diagonal and its intercept row, when asked, without the (d+1)² matrix
    diagonal: tuple | None = None
    #: Σw over the rows ``hessian`` sums (a sample of them with ``hessian_stride`` > 1):
    #: ``hessian / hessian_weight`` estimates the mean curvature of all rows
    hessian_weight: float = 0.0

    def __add__(self, other: "LogisticSums") -> "LogisticSums":
        return LogisticSums(
            loss=self.loss + other.loss,
            grad_coef=self.grad_coef + other.grad_coef,
            grad_intercept=self.grad_intercept + other.grad_intercept,
            weight=self.weight + other.weight,
            rows=self.rows + other.rows,
            hessian=None if self.hessian is None else self.hessian + other.hessian,
            weighted_labels=self.weighted_labels + other.weighted_labels,
            step_losses=self.step_losses + other.step_losses,
            diagonal=None
            if self.diagonal is None
            else tuple(
                a + b for a, b in zip(self.diagonal, cast(tuple, other.diagonal), strict=True)
            ),
            hessian_weight=self.hessian_weight + other.hessian_weight,
        )


@dataclass(frozen=True)
class Probe:
    """What one pass evaluates; scattered to every worker once per pass.

    ``direction`` is over ``[θ, b]`` (length d + 1; its last entry moves the intercept).
    For K classes ``coef`` is (K, d), ``intercept`` (K,) and ``direction`` (K, d + 1).
    """

    coef: np.ndarray
    intercept: float | np.ndarray
    hessian: bool = False
    direction: np.ndarray | None = None
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    class_weight: tuple[float, ...] | None = None
    diagonal: bool = False
    #: the Hessian from every ``hessian_stride``-th block of rows (``sampled_blocks``)
    hessian_stride: int = 1


def logistic_sums(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    coef: np.ndarray,
    intercept: float,
    *,
    hessian: bool = False,
    direction: np.ndarray | None = None,
    steps: np.ndarray | tuple = (),
    class_weight: tuple[float, float] | None = None,
    diagonal: bool = False,
    hessian_stride: int = 1,
    layout: Layout | None = None,
) -> LogisticSums:
    """Loss and gradient sums of one chunk in one sweep over ``X`` (and more on request).

    Block by block of ``GRAM_BLOCK_ROWS`` rows, while the block is in cache: the margins
    (with the line's, in the same product), the multiplier ``w·(σ(z) − y)``, one
    transposed product for the gradient, and the Hessian's share where the block is
    sampled. One read of ``X`` from memory instead of one per product (measured: half the
    time of whole-chunk products on 64 MiB chunks), and temporaries of one block, never
    n × d. A float32 chunk is widened one block at a time, so every product and sum runs
    and accumulates in float64. ``class_weight`` = (c₀, c₁) multiplies each row's weight
    by the weight of its class. One function, not one per sum: the sweep is the point
    (every sum of a block is taken while that block is in cache). With categorical
    columns (``layout``) the chunk is one block, its design products from the level
    codes (``kernels.design``).
    """
    X = design_of(aligned_rows(X), layout)
    n, d = X.shape
    y = np.asarray(y, dtype=np.float64)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if class_weight is not None:
        per_row = class_weight[0] + (class_weight[1] - class_weight[0]) * y
        w = per_row if w is None else w * per_row
    steps = np.asarray(steps, dtype=np.float64)
    line = direction is not None and steps.size > 0
    # one product with X for both the point and the line: [z, X·p]
    weights = (
        np.column_stack([coef, cast(np.ndarray, direction)[:-1]]) if line else np.asarray(coef)
    )
    loss, grad, grad_intercept = 0.0, np.zeros(d), 0.0
    step_losses = np.zeros(steps.size)
    curvature = np.zeros((d + 1, d + 1)) if hessian else None
    squares, cross, total = np.zeros(d), np.zeros(d), np.zeros(1)
    whole = isinstance(X, Design)  # the design's products take the chunk at once
    for index, rows in enumerate([slice(0, n)] if whole else sampled_blocks(n)):
        block = X if whole else float64_rows(X[rows])
        w_b = None if w is None else w[rows]
        y_b = y[rows]
        product = times(block, weights)
        z = (product[:, 0] if line else product) + intercept
        h = sigmoid(z)
        residual = h - y_b
        terms = log_loss_terms(z, y_b)
        if w_b is not None:
            residual *= w_b
            terms *= w_b
        loss += float(terms.sum())
        grad += transposed(block, residual)
        grad_intercept += float(residual.sum())
        if line:
            z_line = product[:, 1] + cast(np.ndarray, direction)[-1]
            for k, step in enumerate(steps):
                at_step = log_loss_terms(z + step * z_line, y_b)
                step_losses[k] += float(at_step @ w_b) if w_b is not None else float(at_step.sum())
        if hessian or diagonal:
            spread = h * (1.0 - h)
            spread = spread if w_b is None else spread * w_b
            if hessian and whole:
                curvature += weighted_gram(block, spread, hessian_stride, w)
            elif hessian and index % hessian_stride == 0:
                curvature += gram(block, spread)
            if diagonal:
                parts = curvature_diagonal(block, spread[:, None])
                squares, cross, total = squares + parts[0][0], cross + parts[1][0], total + parts[2]
    weight = float(n) if w is None else float(w.sum())
    return LogisticSums(
        loss=loss,
        grad_coef=grad,
        grad_intercept=grad_intercept,
        weight=weight,
        rows=int(n),
        hessian=curvature,
        step_losses=step_losses,
        weighted_labels=float(y.sum()) if w is None else float(w @ y),
        diagonal=(squares, cross, total[0]) if diagonal else None,
        hessian_weight=gram_weight(X, w, hessian_stride, weight) if hessian else 0.0,
    )


def probe_sums(X, y, sample_weight, probe: Probe, layout: Layout | None = None) -> LogisticSums:
    """The kernel for a ``Probe`` (the form a pass ships to the workers): ``softmax_sums``
    when it holds one coefficient row per class, else ``logistic_sums``."""
    kernel: Callable[..., LogisticSums] = (
        softmax_sums if np.ndim(probe.coef) == 2 else logistic_sums
    )
    return kernel(
        X,
        y,
        sample_weight,
        probe.coef,
        probe.intercept,
        hessian=probe.hessian,
        direction=probe.direction,
        steps=probe.steps,
        class_weight=probe.class_weight,
        diagonal=probe.diagonal,
        hessian_stride=probe.hessian_stride,
        layout=layout,
    )


def softmax_sums(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    coef: np.ndarray,
    intercept: np.ndarray,
    *,
    hessian: bool = False,
    direction: np.ndarray | None = None,
    steps: np.ndarray | tuple = (),
    class_weight: tuple[float, ...] | None = None,
    diagonal: bool = False,
    hessian_stride: int = 1,
    layout: Layout | None = None,
) -> LogisticSums:
    """``logistic_sums`` for K classes: y holds class indices 0..K−1, ``coef`` is (K, d).

    One product X·[Θᵀ, Dᵀ] gives the margins of the point and of the line; the
    multiplier w·(P − Y) then gives the gradient in one transposed product. Kept in one
    function for the same reason as ``logistic_sums``: one sweep over the chunk.
    """
    X = design_of(float64_rows(X), layout)
    labels = np.asarray(y).astype(np.intp)
    K = coef.shape[0]
    rows = np.arange(labels.shape[0])
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if class_weight is not None:
        per_row = np.asarray(class_weight, dtype=np.float64)[labels]
        w = per_row if w is None else w * per_row
    steps = np.asarray(steps, dtype=np.float64)
    if direction is not None and steps.size:
        both = times(X, np.vstack([coef, direction[:, :-1]]).T)
        Z = both[:, :K] + intercept
        Z_line = both[:, K:] + direction[:, -1]
    else:
        Z = times(X, coef.T) + intercept
        Z_line = None
    terms, P = softmax_loss_terms(Z, labels)
    residual = P.copy()
    residual[rows, labels] -= 1.0
    if w is not None:
        residual *= w[:, None]
        terms *= w
    step_losses = np.zeros(steps.size)
    for k, step in enumerate(steps):
        at_step, _ = softmax_loss_terms(Z + step * Z_line, labels)
        step_losses[k] = float(at_step @ w) if w is not None else float(at_step.sum())
    curvature = None
    if hessian:
        ones = np.ones(rows.size) if w is None else w
        curvature = softmax_curvature(X, P, ones, hessian_stride)
    diagonal_sums: tuple | None
    if diagonal:
        spread = P * (1.0 - P) * (1.0 if w is None else w[:, None])
        diagonal_sums = curvature_diagonal(X, spread)
    else:
        diagonal_sums = None
    counts = np.bincount(labels, weights=w, minlength=K).astype(np.float64)
    weight = float(labels.size) if w is None else float(w.sum())
    return LogisticSums(
        loss=float(terms.sum()),
        grad_coef=transposed(X, residual).T.copy(),
        grad_intercept=residual.sum(axis=0),
        weight=weight,
        rows=int(labels.size),
        hessian=curvature,
        step_losses=step_losses,
        weighted_labels=counts,
        diagonal=diagonal_sums,
        hessian_weight=gram_weight(X, w, hessian_stride, weight) if hessian else 0.0,
    )


def softmax_curvature(X, P: np.ndarray, w: np.ndarray, stride: int = 1) -> np.ndarray:
    """Σ w·(diag(p) − p·pᵀ) ⊗ [x, 1][x, 1]ᵀ, as K × K blocks of (d+1)².

    Block (k, k) is ``gram`` with weights w·p_k·(1 − p_k) and block (k, j) is minus
    ``gram`` with w·p_k·p_j: every ``gram`` weight stays >= 0, and no block is the small
    difference of two large ones.
    """
    K, m = P.shape[1], X.shape[1] + 1
    out = np.empty((K * m, K * m))
    for k in range(K):
        for j in range(k, K):
            if k == j:
                block = weighted_gram(X, w * P[:, k] * (1.0 - P[:, k]), stride, w)
            else:
                block = -weighted_gram(X, w * P[:, k] * P[:, j], stride, w)
            out[k * m : (k + 1) * m, j * m : (j + 1) * m] = block
            out[j * m : (j + 1) * m, k * m : (k + 1) * m] = block
    return out


def aligned_rows(X: np.ndarray) -> np.ndarray:
    """X at an aligned address, in its own dtype (blocks are widened by ``float64_rows``)."""
    return np.require(X, requirements="A")


def float64_rows(X: np.ndarray) -> np.ndarray:
    """X as an aligned float64 array: float32 chunks (``dtype="float32"``) are widened here,
    one chunk at a time, so every product and sum runs and accumulates in float64."""
    # A chunk that crossed the network may sit at an odd address; NumPy then skips BLAS
    # and sums in another order, which would break bit-identical reruns.
    return np.require(X, dtype=np.float64, requirements="A")


def curvature_diagonal(X, S: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each column k of weights S (n, K): Σs·x² (per feature), Σs·x and Σs — the
    diagonal of Σ s·[x, 1][x, 1]ᵀ and its intercept row, in row blocks."""
    if isinstance(X, Design):
        return X.squares(S), X.transpose(S).T.copy(), S.sum(axis=0)
    n, d = X.shape
    squares = np.zeros((S.shape[1], d))
    for start in range(0, n, GRAM_BLOCK_ROWS):
        block = X[start : start + GRAM_BLOCK_ROWS]
        squares += ((block * block).T @ S[start : start + GRAM_BLOCK_ROWS]).T
    return squares, np.asarray(X.T @ S, dtype=np.float64).T.copy(), S.sum(axis=0)
