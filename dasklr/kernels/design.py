"""The design matrix of a chunk with categorical columns, never materialised.

A chunk holds the numeric features first and then, per categorical column, its level
codes (as floats, exact up to 2^24 even in float32): 0..L−1 for the levels that have a
coefficient, −1 for the reference level, which has none. The design row of a chunk row
is [x_numeric, onehot(code_1), …, onehot(code_C)]: ``Design`` computes its products
from the codes.

- margins A·W: X_num·W_num + Σ_c W_c[code_c] — a gather per column (the reference level
  reads a 0 row appended to W_c);
- transposed products Aᵀ·R: X_numᵀ·R and, per column, the sums of R per level (bincount);
- the weighted Gram Σ s·[a, 1][a, 1]ᵀ in blocks: the numeric (d+1)² block as for dense
  data, a categorical column's own block is diagonal (its per-level Σs), its cross block
  with the numeric features is L × d (per level, Σ s·x), and two categorical columns
  meet in an L₁ × L₂ block (Σs per pair of levels: one bincount).

So a 1,000-level column costs O(n·d) on top of the numeric O(n·d²) Gram, not the
O(n·L²) of a dense one-hot block. Newton's Hessian of a large chunk is estimated from a
sample of its rows (``Design.sampled_gram``), with every level's exact curvature as a
floor, so the O(n·d) cross block costs O(n·d / stride). On rows that happen to be
sorted by the first categorical column the cross block is one product per run of a
level. Pure NumPy, as every kernel.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from dasklr.kernels.blocks import gram, sampled_weight


@dataclass(frozen=True)
class Layout:
    """How a chunk's columns map to coefficients: ``n_numeric`` numeric columns, then one
    column of level codes per categorical column, with ``levels[c]`` coefficients each."""

    n_numeric: int
    levels: tuple[int, ...] = ()

    @property
    def width(self) -> int:
        """Coefficients of the design (the numeric features and every coded level)."""
        return self.n_numeric + sum(self.levels)

    @property
    def n_columns(self) -> int:
        """Columns of a chunk: the numeric ones and one per categorical column."""
        return self.n_numeric + len(self.levels)

    def offsets(self) -> list[int]:
        """Where each categorical column's coefficients start in the design."""
        starts = np.cumsum([self.n_numeric, *self.levels])
        return [int(s) for s in starts[:-1]]

    def categorical(self) -> np.ndarray:
        """(width,) True for the coefficients of levels."""
        out = np.zeros(self.width, dtype=bool)
        out[self.n_numeric :] = True
        return out


class Design:
    """One chunk's design A (n × width) seen through its layout: products, never A.

    Coefficient arguments are (width,) or (width, k); row arguments (n,) or (n, k).
    """

    def __init__(self, X: np.ndarray, layout: Layout):
        d = layout.n_numeric
        self.layout = layout
        self.shape = (X.shape[0], layout.width)
        self.numeric = np.require(X[:, :d], dtype=np.float64, requirements="A")
        self.codes = [np.asarray(X[:, d + c], dtype=np.intp) for c in range(len(layout.levels))]

    @cached_property
    def _runs(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(start, end) of each run of one code of the first categorical column, when the
        rows are sorted by it; None otherwise."""
        code = self.codes[0]
        if not (code.size and bool(np.all(code[1:] >= code[:-1]))):
            return None
        bounds = np.flatnonzero(np.diff(code)) + 1
        return np.append(0, bounds), np.append(bounds, code.size)

    def _columns(self):
        return zip(self.layout.offsets(), self.layout.levels, self.codes, strict=True)

    def margins(self, W: np.ndarray) -> np.ndarray:
        """A·W: (n,) or (n, k)."""
        W = np.asarray(W, dtype=np.float64)
        z = np.asarray(self.numeric @ W[: self.layout.n_numeric], dtype=np.float64)
        for start, count, code in self._columns():
            block = W[start : start + count]
            padded = np.concatenate([block, np.zeros((1, *block.shape[1:]))])  # code −1 reads 0
            z += padded[code]
        return z

    def transpose(self, R: np.ndarray) -> np.ndarray:
        """Aᵀ·R: (width,) or (width, k)."""
        R = np.asarray(R, dtype=np.float64)
        out = np.empty((self.layout.width, *R.shape[1:]))
        out[: self.layout.n_numeric] = self.numeric.T @ R
        for start, count, code in self._columns():
            out[start : start + count] = level_sums(code, R, count)
        return out

    def squares(self, S: np.ndarray) -> np.ndarray:
        """Σ s·a² per coefficient for each column of S (n, k): (k, width). A one-hot
        column squared is itself."""
        out = np.empty((S.shape[1], self.layout.width))
        numeric = self.numeric
        out[:, : self.layout.n_numeric] = ((numeric * numeric).T @ S).T
        for start, count, code in self._columns():
            out[:, start : start + count] = level_sums(code, S, count).T
        return out

    def rows(self, index: np.ndarray) -> "Design":
        """The design of some rows (in their order)."""
        part = Design.__new__(Design)
        part.layout, part.shape = self.layout, (index.size, self.layout.width)
        part.numeric = self.numeric[index]
        part.codes = [code[index] for code in self.codes]
        return part

    def gram(self, s: np.ndarray, numeric_block: np.ndarray | None = None) -> np.ndarray:
        """Σ s_i·[a_i, 1][a_i, 1]ᵀ, (width+1)², by blocks (see the module docstring);
        ``numeric_block``: the d × d block of the numeric features, when already known."""
        d, width = self.layout.n_numeric, self.layout.width
        out = np.zeros((width + 1, width + 1))
        if numeric_block is None:
            numeric_block = gram(self.numeric, s)[:d, :d]
        out[:d, :d] = numeric_block
        out[width, :d] = self.numeric.T @ s
        out[width, width] = s.sum()
        starts = self.layout.offsets()
        for c, (start, count, code) in enumerate(self._columns()):
            block = slice(start, start + count)
            per_level = level_sums(code, s, count)
            out[block, block] = np.diag(per_level)
            out[width, block] = per_level
            out[block, :d] = self._cross_block(c, s)
            for other in range(c):  # Σ s per pair of levels with an earlier column
                o_start, o_count, o_code = (
                    starts[other],
                    self.layout.levels[other],
                    self.codes[other],
                )
                both = (code >= 0) & (o_code >= 0)
                pairs = np.bincount(
                    code[both] * o_count + o_code[both], weights=s[both], minlength=count * o_count
                )
                out[block, o_start : o_start + o_count] = pairs.reshape(count, o_count)
        # every block was filled on or below the diagonal: mirror it
        return np.tril(out) + np.tril(out, -1).T

    def sampled_gram(
        self, s: np.ndarray, stride: int = 1, w: np.ndarray | None = None
    ) -> np.ndarray:
        """``gram`` estimated from every ``stride``-th row, scaled up by Σw / Σw of those
        rows, so that it stands for all the chunk's rows as a whole Gram does (its weight
        is Σw, not the sample's). A level the sample holds too few rows of gets the rest
        of its exact curvature (Σs of its rows, one bincount) on its diagonal: no level,
        however rare, lacks curvature, and adding a non-negative diagonal keeps the
        estimate positive semi-definite. (Rescaling each level's row and column to its
        exact diagonal instead was measured far slower to converge: a chunk's sample
        holds about one row of each of 1,000 levels, and the noise of one row's ratio
        reaches the cross block.)"""
        if stride == 1:
            return self.gram(s)
        n = self.shape[0]
        index = np.arange(0, n, stride)
        base = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
        sampled = float(base[index].sum())
        scale = float(base.sum()) / sampled if sampled > 0 else 0.0
        out = self.rows(index).gram(s[index]) * scale
        for start, count, code in self._columns():
            at = np.arange(start, start + count)
            out[at, at] += np.maximum(level_sums(code, s, count) - out[at, at], 0.0)
        return out

    def _cross_block(self, c: int, s: np.ndarray) -> np.ndarray:
        """Σ s·x per level of column c, (count, d). On rows sorted by the code (column 0
        of a training chunk) each level is one run: one product s[run]·X[run] per level,
        O(n·d) streamed once. Otherwise one bincount per numeric column (slower)."""
        code, count = self.codes[c], self.layout.levels[c]
        numeric = self.numeric
        out = np.zeros((count, numeric.shape[1]))
        runs = self._runs if c == 0 else None
        if runs is not None:
            for start, end in zip(*runs, strict=True):
                if code[start] >= 0:
                    out[code[start]] = s[start:end] @ numeric[start:end]
            return out
        for j in range(numeric.shape[1]):
            out[:, j] = level_sums(code, s * numeric[:, j], count)
        return out

    def dense(self) -> np.ndarray:
        """The one-hot design (n, width): for small blocks and for checking the above."""
        n = self.shape[0]
        out = np.zeros((n, self.layout.width))
        out[:, : self.layout.n_numeric] = self.numeric
        rows = np.arange(n)
        for start, _, code in self._columns():
            coded = code >= 0
            out[rows[coded], start + code[coded]] = 1.0
        return out


def design_of(X, layout: Layout | None):
    """X itself for numeric data (no layout, or one without categorical columns), else
    its ``Design``."""
    if layout is None or not layout.levels or isinstance(X, Design):
        return X
    return Design(X, layout)


def times(X, W: np.ndarray) -> np.ndarray:
    """X·W in float64, for a dense block or a ``Design``."""
    return X.margins(W) if isinstance(X, Design) else np.asarray(X @ W, dtype=np.float64)


def transposed(X, R: np.ndarray) -> np.ndarray:
    """Xᵀ·R in float64, for a dense block or a ``Design``."""
    return X.transpose(R) if isinstance(X, Design) else np.asarray(X.T @ R, dtype=np.float64)


def weighted_gram(X, s: np.ndarray, stride: int = 1, w: np.ndarray | None = None) -> np.ndarray:
    """Σ s·[x, 1][x, 1]ᵀ over ``sampled_blocks`` for a dense block; for a ``Design``, its
    estimate over all rows (``Design.sampled_gram``; ``w``: the rows' weights)."""
    return X.sampled_gram(s, stride, w) if isinstance(X, Design) else gram(X, s, stride)


def gram_weight(X, w: np.ndarray | None, stride: int, weight: float) -> float:
    """The weight ``weighted_gram`` stands for: Σw of the sampled blocks of a dense block
    (``sampled_weight``), all of it (``weight``) for a ``Design``."""
    return weight if isinstance(X, Design) else sampled_weight(w, X.shape[0], stride, weight)


def level_sums(code: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """Σ values per level 0..count−1 (the reference level, −1, left out): (count,) or
    (count, k) for values (n, k)."""
    coded = code >= 0
    if values.ndim == 1:
        return np.bincount(code[coded], weights=values[coded], minlength=count)[:count]
    kept = code[coded]
    return np.column_stack(
        [
            np.bincount(kept, weights=values[coded, j], minlength=count)[:count]
            for j in range(values.shape[1])
        ]
    ).reshape(count, values.shape[1])
