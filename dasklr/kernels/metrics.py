"""The metrics kernel: one chunk's sums for log-loss, accuracy, Brier score, AUC
(score histograms), precision/recall and calibration (``stats.metrics`` summarises).
"""

from dataclasses import dataclass, field
from typing import cast

import numpy as np

from dasklr.kernels.design import Layout, design_of, times
from dasklr.kernels.logistic import float64_rows
from dasklr.kernels.numerics import logsumexp

AUC_BINS = 32768
LOGIT_RANGE = 20.0
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class MetricSums:
    """Sums over rows; per-class arrays have one entry per scored class (1 for binary)."""

    weight: float
    log_loss: float
    brier: float
    correct: float
    true_weight: np.ndarray  # Σw of rows of the class
    predicted_weight: np.ndarray  # Σw of rows predicted as the class
    hit_weight: np.ndarray  # Σw of rows of the class predicted as it
    positive_histogram: np.ndarray  # (classes, AUC_BINS): rows of the class
    negative_histogram: np.ndarray  # (classes, AUC_BINS): rows of the others
    calibration: np.ndarray  # (classes, 3, CALIBRATION_BINS): Σw·p, Σw·y, Σw per bin
    #: (scores (n, classes), is-the-class (n, classes), w (n,)) when AUC is to be exact
    rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None)

    def __add__(self, other: "MetricSums") -> "MetricSums":
        rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if self.rows is not None:
            assert other.rows is not None  # kept for every chunk of a pass, or for none
            merged = tuple(
                np.concatenate([a, b]) for a, b in zip(self.rows, other.rows, strict=True)
            )
            rows = cast(tuple[np.ndarray, np.ndarray, np.ndarray], merged)
        return MetricSums(
            weight=self.weight + other.weight,
            log_loss=self.log_loss + other.log_loss,
            brier=self.brier + other.brier,
            correct=self.correct + other.correct,
            true_weight=self.true_weight + other.true_weight,
            predicted_weight=self.predicted_weight + other.predicted_weight,
            hit_weight=self.hit_weight + other.hit_weight,
            positive_histogram=self.positive_histogram + other.positive_histogram,
            negative_histogram=self.negative_histogram + other.negative_histogram,
            calibration=self.calibration + other.calibration,
            rows=rows,
        )


def metric_sums(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    coef: np.ndarray,
    intercept: np.ndarray,
    threshold: float,
    keep_rows: bool,
    layout: Layout | None = None,
) -> MetricSums:
    """The sums of one chunk for a model with ``coef`` (B, d) and ``intercept`` (B,).

    ``y`` holds class indices (0/1 for binary). For binary the scored class is class 1
    and a row is predicted positive when P(1) > ``threshold``; for K classes every class
    is scored against the rest and the prediction is the most probable class. Every
    metric's sums come from the same probabilities of the chunk, computed once: one
    function, so they are not recomputed per metric.
    """
    X = design_of(float64_rows(X), layout)
    labels = np.asarray(y).astype(np.intp)
    n = labels.size
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    margins = times(X, coef.T) + intercept
    # binary: the margin is the log-odds of class 1 against class 0
    Z = np.column_stack([np.zeros(n), margins[:, 0]]) if coef.shape[0] == 1 else margins
    log_p = Z - logsumexp(Z)[:, None]
    P = np.exp(log_p)
    rows = np.arange(n)
    truth = np.zeros_like(P)
    truth[rows, labels] = 1.0
    if coef.shape[0] == 1:
        predicted = (P[:, 1] > threshold).astype(np.intp)
        scored = slice(1, 2)  # class 1 against class 0
    else:
        predicted = P.argmax(axis=1)
        scored = slice(None)
    scores, is_class = P[:, scored], truth[:, scored]
    logits = _log_odds(log_p[:, scored])
    bins = np.clip(
        ((logits + LOGIT_RANGE) * (AUC_BINS / (2 * LOGIT_RANGE))).astype(np.intp), 0, AUC_BINS - 1
    )
    calibration_bins = np.minimum((scores * CALIBRATION_BINS).astype(np.intp), CALIBRATION_BINS - 1)
    classes = scores.shape[1]
    positive = np.zeros((classes, AUC_BINS))
    negative = np.zeros((classes, AUC_BINS))
    calibration = np.zeros((classes, 3, CALIBRATION_BINS))
    predicted_onehot = np.zeros_like(P)
    predicted_onehot[rows, predicted] = 1.0
    for k in range(classes):
        mine = is_class[:, k] == 1
        positive[k] = np.bincount(bins[mine, k], weights=w[mine], minlength=AUC_BINS)
        negative[k] = np.bincount(bins[~mine, k], weights=w[~mine], minlength=AUC_BINS)
        for j, values in enumerate((w * scores[:, k], w * is_class[:, k], w)):
            calibration[k, j] = np.bincount(
                calibration_bins[:, k], weights=values, minlength=CALIBRATION_BINS
            )
    return MetricSums(
        weight=float(w.sum()),
        log_loss=float(w @ -log_p[rows, labels]),
        brier=float(w @ ((P - truth) ** 2).sum(axis=1)) / (2 if coef.shape[0] == 1 else 1),
        correct=float(w @ (predicted == labels)),
        true_weight=(w @ truth)[scored],
        predicted_weight=(w @ predicted_onehot)[scored],
        hit_weight=(w @ (truth * predicted_onehot))[scored],
        positive_histogram=positive,
        negative_histogram=negative,
        calibration=calibration,
        rows=(scores.copy(), is_class.copy(), w.copy()) if keep_rows else None,
    )


def _log_odds(log_p: np.ndarray) -> np.ndarray:
    """log(p / (1 − p)) from log p, without log(0): 1 − p = −expm1(log p)."""
    with np.errstate(divide="ignore"):
        return log_p - np.log(-np.expm1(np.minimum(log_p, -1e-300)))
