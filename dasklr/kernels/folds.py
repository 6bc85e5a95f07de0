"""Which rows are held out: a hash of each row's global index, no shuffle, no state.

Cross-validation folds (``fold_of``) and the validation rows of early stopping
(``held_out``) come from SplitMix64 of the row index: the same rows on every run and
cluster, computed chunk by chunk from the chunk's first row (``row_offsets``).
"""

import numpy as np


def _mix(rows: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64's finaliser of index + seed: uniform 64-bit values."""
    z = np.asarray(rows, dtype=np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def fold_of(rows: np.ndarray, n_folds: int, seed: int = 0) -> np.ndarray:
    """The fold (0 … n_folds−1) of each global row index: SplitMix64 of the index, mod k.

    A hash, not a shuffle: it needs no pass, keeps no state, and sends every row to the
    same fold on every run; folds are equal in size up to sampling noise.
    """
    return (_mix(rows, seed) % np.uint64(n_folds)).astype(np.intp)


def fold_ids(n_rows: int, n_folds: int, seed: int = 0) -> np.ndarray:
    """Every row's fold, in row order: give it to scikit-learn (``PredefinedSplit``) to
    cross-validate on the same folds."""
    return fold_of(np.arange(n_rows), n_folds, seed)


def held_out(rows: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Whether each global row index is a validation row (a share ``fraction`` of rows).

    Another seed than the folds' default, so early stopping inside a fold's fit would not
    hold out the same rows as the fold.
    """
    threshold = np.uint64(min(int(fraction * 2.0**64), 2**64 - 1))
    return _mix(rows, seed + 7919) < threshold
