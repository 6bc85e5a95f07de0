"""The sandwich kernel: one chunk's Hessian, HC0 meat and per-cluster scores at
the fitted coefficients, as raw sums (``stats.robust`` turns them into covariances).
"""

from dataclasses import dataclass

import numpy as np

from dasklr.kernels.blocks import GRAM_BLOCK_ROWS
from dasklr.kernels.design import Design, Layout, design_of, times, weighted_gram
from dasklr.kernels.logistic import float64_rows
from dasklr.kernels.numerics import sigmoid


@dataclass(frozen=True)
class RobustSums:
    """One chunk's (or several merged chunks') pieces of the sandwich, as raw sums.

    ``hessian`` and ``meat`` are (d+1)²; ``group_keys`` (G,) are sorted unique int64
    cluster codes and ``group_scores`` (G, d+1) the summed row scores of each, or both
    None when the sums were taken without groups.
    """

    hessian: np.ndarray
    meat: np.ndarray
    group_keys: np.ndarray | None
    group_scores: np.ndarray | None
    rows: int
    weight: float

    def __add__(self, other: "RobustSums") -> "RobustSums":
        if (self.group_keys is None) != (other.group_keys is None):
            raise ValueError(
                "cannot merge robust sums taken with groups and sums taken without: "
                "pass groups for every chunk or for none"
            )
        keys, scores = self.group_keys, self.group_scores
        if keys is not None:
            # both sides have groups (checked above), and scores with their keys
            assert self.group_keys is not None and other.group_keys is not None
            assert self.group_scores is not None and other.group_scores is not None
            # each side's keys are unique, so a shared key gets exactly 0 + a + b
            keys = np.union1d(self.group_keys, other.group_keys)
            scores = np.zeros((keys.size, self.hessian.shape[0]))
            scores[np.searchsorted(keys, self.group_keys)] += self.group_scores
            scores[np.searchsorted(keys, other.group_keys)] += other.group_scores
        return RobustSums(
            hessian=self.hessian + other.hessian,
            meat=self.meat + other.meat,
            group_keys=keys,
            group_scores=scores,
            rows=self.rows + other.rows,
            weight=self.weight + other.weight,
        )


def robust_sums(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    groups: np.ndarray | None,
    coef: np.ndarray,
    intercept: float,
    layout: Layout | None = None,
) -> RobustSums:
    """Bread, HC0 meat and (with ``groups``) per-cluster scores of one chunk at (θ, b).

    ``groups`` holds int64 codes from ``group_codes``, so that a cluster split across
    chunks or processes gets one key. With q = σ(−z) = 1 − h computed directly,
    h(1−h) = h·q and h − y = h·(1−y) − q·y keep their digits for large |z|, where
    1 − h would round to 0.
    """
    X = design_of(float64_rows(X), layout)
    n = X.shape[0]
    y = np.asarray(y, dtype=np.float64)
    z = times(X, coef) + intercept
    h, q = sigmoid(z), sigmoid(-z)
    curvature = h * q
    score = h * (1.0 - y) - q * y  # the multiplier of x̃ in row i's score
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        curvature *= w
        score *= w
    keys = scores = None
    if groups is not None:
        keys, scores = _group_scores(X, score, _checked_codes(groups, n))
    return RobustSums(
        hessian=weighted_gram(X, curvature),
        meat=weighted_gram(X, score * score),
        group_keys=keys,
        group_scores=scores,
        rows=n,
        weight=float(n) if sample_weight is None else float(w.sum()),
    )


def _checked_codes(groups: np.ndarray, n: int) -> np.ndarray:
    """``groups`` as int64 codes of length n, or a ValueError saying what came instead."""
    codes = np.asarray(groups)
    if codes.shape != (n,):
        raise ValueError(f"expected groups of shape ({n},), one code per row, got {codes.shape}")
    if codes.dtype.kind not in "iu":
        raise ValueError(
            f"expected integer group codes, got dtype {codes.dtype}: map labels with "
            "dasklr.data.groups.group_codes so every chunk agrees on them"
        )
    return codes.astype(np.int64, copy=False)


def _group_scores(X, score: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique codes and Σ score·x̃ within each, in row blocks (block × d
    temporaries); a level's share is Σ score per (group, level): one bincount."""
    numeric = X.numeric if isinstance(X, Design) else X
    n, d = numeric.shape
    width = X.shape[1]
    keys, where = np.unique(codes, return_inverse=True)
    sums = np.zeros((keys.size, width + 1))
    for start in range(0, n, GRAM_BLOCK_ROWS):
        rows = slice(start, start + GRAM_BLOCK_ROWS)
        np.add.at(sums[:, :d], where[rows], numeric[rows] * score[rows, None])
    if isinstance(X, Design):
        for start, count, code in zip(X.layout.offsets(), X.layout.levels, X.codes, strict=True):
            coded = code >= 0
            flat = np.bincount(
                where[coded] * count + code[coded],
                weights=score[coded],
                minlength=keys.size * count,
            )
            sums[:, start : start + count] = flat.reshape(keys.size, count)
    sums[:, width] = np.bincount(where, weights=score, minlength=keys.size)
    return keys, sums
