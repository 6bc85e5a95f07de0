"""Kernels of a penalty grid: one chunk's sums for every model of the grid at once,
each on the training rows of its fold (rows of a fold weigh 0 for its model).
"""

import numpy as np

from dasklr.kernels.design import Layout
from dasklr.kernels.folds import fold_of
from dasklr.kernels.logistic import LogisticSums, Probe, probe_sums
from dasklr.kernels.metrics import MetricSums, metric_sums
from dasklr.kernels.summary import summary_sums

#: ``fold`` of a model trained on all rows.
ALL_ROWS = -1


def _fold_weights(w, n_rows: int, offset: int, n_folds: int, seed: int):
    """{fold: (weights of its training rows, weights of its held-out rows)} for one chunk."""
    base = np.ones(n_rows) if w is None else np.asarray(w, dtype=np.float64)
    out = {ALL_ROWS: (w, w)}  # "held out" of all rows: a separate validation dataset
    if n_folds:
        folds = fold_of(np.arange(offset, offset + n_rows), n_folds, seed)
        for f in range(n_folds):
            held = folds == f
            out[f] = (np.where(held, 0.0, base), np.where(held, base, 0.0))
    return out


class PerModel(tuple):
    """One partial per model: merges element by element (``merge_sums`` adds with +)."""

    def __add__(self, other: tuple) -> "PerModel":
        return PerModel(a + b for a, b in zip(self, other, strict=True))


# -- kernels (one chunk, every model) -------------------------------------------------------


def lockstep_sums(
    X, y, w, offset: int, n_folds: int, seed: int, requests: tuple, layout: Layout | None = None
) -> PerModel:
    """``probe_sums`` for each (fold, probe) request, on the training rows of its fold."""
    weights = _fold_weights(w, X.shape[0], offset, n_folds, seed)
    return PerModel(
        probe_sums(X, y, weights[fold][0], probe, layout=layout) for fold, probe in requests
    )


def lockstep_summaries(
    X, y, w, offset, n_folds, seed, folds, full_moments, n_classes, layout: Layout | None = None
):
    """``summary_sums`` on the training rows of each fold in ``folds``."""
    weights = _fold_weights(w, X.shape[0], offset, n_folds, seed)
    return PerModel(
        summary_sums(X, y, weights[fold][0], full_moments, n_classes, layout=layout)
        for fold in folds
    )


def held_out_sums(
    X, y, w, offset, n_folds, seed, requests: tuple, scoring: str, layout: Layout | None = None
) -> PerModel:
    """Each (fold, coef, intercept) model's score sums on the rows of its fold."""
    weights = _fold_weights(w, X.shape[0], offset, n_folds, seed)
    parts: list[MetricSums | LogisticSums] = []
    for fold, coef, intercept in requests:
        held = weights[fold][1]
        if scoring == "roc_auc":
            parts.append(metric_sums(X, y, held, coef, intercept, 0.5, False, layout=layout))
        else:
            binary = coef.shape[0] == 1
            probe = Probe(coef[0] if binary else coef, intercept[0] if binary else intercept)
            parts.append(probe_sums(X, y, held, probe, layout=layout))
    return PerModel(parts)
