"""The design matrix of a chunk with categorical columns, never materialised.

A chunk holds the numeric features first and then, per categorical column, its level
codes (as floats, exact up to 2^53): 0..L−1 for the levels that have a coefficient, −1
for the reference level, which has none. The design row of a chunk row is
[x_numeric, onehot(code_1), …, onehot(code_C)]: its products are computed from the codes.

- margins: X_num·θ_num + Σ_c θ_c[code_c] — a gather per column (the reference level
  reads a 0 appended to θ_c);
- transposed products Aᵀ·r: X_numᵀ·r and, per column, the sums of r per level (bincount);
- the weighted Gram Σ s·[a, 1][a, 1]ᵀ in blocks: the numeric (d+1)² block as for dense
  data, a categorical column's own block is diagonal (its per-level Σs), its cross block
  with the numeric features is L × d (per level, Σ s·x: d bincounts), and two categorical
  columns meet in an L₁ × L₂ block (Σs per pair of levels: one bincount).

So a 1,000-level column costs O(n·d) on top of the numeric O(n·d²) Gram, not the
O(n·L²) of a dense one-hot block. Pure NumPy, as every kernel.
"""

from dataclasses import dataclass

import numpy as np


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

    def split(self, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """The numeric block (float64) and the code arrays (intp, −1: reference level)."""
        d = self.n_numeric
        numeric = np.require(X[:, :d], dtype=np.float64, requirements="A")
        codes = [np.asarray(X[:, d + c], dtype=np.intp) for c in range(len(self.levels))]
        return numeric, codes


def design_margins(X: np.ndarray, coef: np.ndarray, layout: Layout) -> np.ndarray:
    """A·θ for one coefficient vector of the design's ``width`` (no intercept)."""
    numeric, codes = layout.split(X)
    z = np.asarray(numeric @ coef[: layout.n_numeric], dtype=np.float64)
    for start, count, code in zip(layout.offsets(), layout.levels, codes, strict=True):
        padded = np.append(coef[start : start + count], 0.0)  # code −1 reads the 0
        z = z + padded[code]
    return z


def design_transpose(X: np.ndarray, r: np.ndarray, layout: Layout) -> np.ndarray:
    """Aᵀ·r: (width,)."""
    numeric, codes = layout.split(X)
    out = np.empty(layout.width)
    out[: layout.n_numeric] = numeric.T @ r
    for start, count, code in zip(layout.offsets(), layout.levels, codes, strict=True):
        out[start : start + count] = _level_sums(code, r, count)
    return out


def design_gram(X: np.ndarray, s: np.ndarray, layout: Layout) -> np.ndarray:
    """Σ s_i·[a_i, 1][a_i, 1]ᵀ over the design rows a_i, (width+1)², by blocks."""
    numeric, codes = layout.split(X)
    d, width = layout.n_numeric, layout.width
    out = np.zeros((width + 1, width + 1))
    root = np.sqrt(s)
    weighted = numeric * root[:, None]
    out[:d, :d] = weighted.T @ weighted
    out[width, :d] = numeric.T @ s
    out[width, width] = s.sum()
    starts = layout.offsets()
    for c, (start, count, code) in enumerate(zip(starts, layout.levels, codes, strict=True)):
        block = slice(start, start + count)
        per_level = _level_sums(code, s, count)
        out[block, block] = np.diag(per_level)
        out[width, block] = per_level
        out[block, :d] = _cross_block(code, s, numeric, count)
        for other in range(c):  # Σ s per pair of levels with an earlier column
            o_start, o_count, o_code = starts[other], layout.levels[other], codes[other]
            both = (code >= 0) & (o_code >= 0)
            pairs = np.bincount(
                code[both] * o_count + o_code[both], weights=s[both], minlength=count * o_count
            )
            out[block, o_start : o_start + o_count] = pairs.reshape(count, o_count)
    upper = np.triu_indices(width + 1, 1)
    out[upper] = out.T[upper]  # every block was filled below the diagonal: mirror it
    return out


def one_hot(X: np.ndarray, layout: Layout) -> np.ndarray:
    """The dense design (n, width): for small data and for checking the blocks above."""
    numeric, codes = layout.split(X)
    out = np.zeros((X.shape[0], layout.width))
    out[:, : layout.n_numeric] = numeric
    rows = np.arange(X.shape[0])
    for start, code in zip(layout.offsets(), codes, strict=True):
        coded = code >= 0
        out[rows[coded], start + code[coded]] = 1.0
    return out


def _cross_block(code: np.ndarray, s: np.ndarray, numeric: np.ndarray, count: int):
    """Σ s·x per level, (count, d). On rows sorted by this column's code (the chunk's
    first categorical column, sorted when the chunk is decoded) each level is one run of
    rows: one product s[run]·X[run] per level, O(n·d) streamed once. Otherwise one
    bincount per numeric column (several times slower)."""
    out = np.zeros((count, numeric.shape[1]))
    if code.size and bool(np.all(code[1:] >= code[:-1])):
        bounds = np.flatnonzero(np.diff(code)) + 1
        starts, ends = np.append(0, bounds), np.append(bounds, code.size)
        for start, end in zip(starts, ends, strict=True):
            if code[start] >= 0:
                out[code[start]] = s[start:end] @ numeric[start:end]
        return out
    for j in range(numeric.shape[1]):
        out[:, j] = _level_sums(code, s * numeric[:, j], count)
    return out


def _level_sums(code: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """Σ values per level 0..count−1 (the reference level, −1, left out)."""
    coded = code >= 0
    return np.bincount(code[coded], weights=values[coded], minlength=count)[:count]
