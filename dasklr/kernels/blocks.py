"""Row blocks and the dense weighted Gram matrix Σ s·[x, 1][x, 1]ᵀ: the shared bottom of
the chunk kernels (``logistic``, ``summary``, ``robust``, ``design``)."""

import numpy as np

#: Rows per block when accumulating a Gram matrix: bounds the temporary to block × d.
GRAM_BLOCK_ROWS = 4096


def sampled_blocks(n: int, stride: int = 1) -> list[slice]:
    """The row blocks a Hessian sums over: every ``stride``-th block of ``GRAM_BLOCK_ROWS``
    rows (all rows for stride 1). Fixed by the row positions alone, so every pass — and
    every rerun — sums the same rows, spread over the whole chunk."""
    return [slice(s, s + GRAM_BLOCK_ROWS) for s in range(0, n, GRAM_BLOCK_ROWS * stride)]


def sampled_weight(w: np.ndarray | None, n: int, stride: int, weight: float) -> float:
    """Σw over ``sampled_blocks`` (``weight``, the sum over all rows, for stride 1)."""
    if stride == 1:
        return weight
    blocks = sampled_blocks(n, stride)
    if w is None:
        return float(sum(len(range(n)[block]) for block in blocks))
    return float(sum(w[block].sum() for block in blocks))


def gram(X: np.ndarray, s: np.ndarray, stride: int = 1) -> np.ndarray:
    """Σ s_i·[x_i, 1][x_i, 1]ᵀ for s ≥ 0 over ``sampled_blocks`` (every row for stride 1),
    block by block: symmetric products, memory bounded by one block."""
    n, d = X.shape
    out = np.zeros((d + 1, d + 1))
    root = np.sqrt(s)
    if stride == 1:
        for block in sampled_blocks(n):
            weighted = X[block] * root[block, None]
            out[:d, :d] += weighted.T @ weighted
        out[:d, d] = X.T @ s
        out[d, d] = s.sum()
    else:
        for block in sampled_blocks(n, stride):
            rows = X[block]
            weighted = rows * root[block, None]
            out[:d, :d] += weighted.T @ weighted
            out[:d, d] += rows.T @ s[block]
            out[d, d] += s[block].sum()
    out[d, :d] = out[:d, d]
    return out
