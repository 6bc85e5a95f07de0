"""Metrics of a fitted model over data of any size, in one pass.

Each chunk returns sums (``MetricSums``) that merge by addition, like the training
kernels: the weighted log-loss, Brier score and accuracy, per-class counts for
precision, recall and F1, a calibration table, and — for AUC — histograms of each
class's score for the rows of that class and of the others.

AUC (one class against the rest; for binary, class 1) is exact when the data has at most
``exact_rows`` rows: the scores themselves come back to the driver and are ranked, with
tied scores counted as half a pair, as scikit-learn's ``roc_auc_score``. Beyond that it
comes from the histograms, over ``AUC_BINS`` bins of the score's log-odds in
[−``LOGIT_RANGE``, ``LOGIT_RANGE``] (bin width ≈ 0.0012; the end bins hold everything
beyond, p below 2e-9 or above 1 − 2e-9).
Every pair of a positive and a negative in different bins is ordered exactly; pairs in
the same bin are counted as half, so the error is at most half the share of such pairs:
``auc_error_bound`` = ½·Σ_b pos_b·neg_b / (P·N), reported beside the AUC (0 when exact).
"""

from collections.abc import Sequence

import numpy as np

from dasklr.kernels.metrics import CALIBRATION_BINS, MetricSums

#: Points kept of each ROC curve (for plots and the model file).
ROC_POINTS = 256
#: Up to this many rows, AUC is computed exactly from the scores on the driver.
EXACT_AUC_ROWS = 2_000_000


def summarise(sums: MetricSums, classes: Sequence, threshold: float) -> dict:
    """Plain numbers (JSON-ready): the overall metrics and one entry per scored class."""
    W = sums.weight
    binary = sums.true_weight.size == 1
    scored = [classes[1]] if binary else list(classes)
    per_class = []
    for k, label in enumerate(scored):
        precision = _ratio(sums.hit_weight[k], sums.predicted_weight[k])
        recall = _ratio(sums.hit_weight[k], sums.true_weight[k])
        f1 = None
        if precision is not None and recall is not None:
            f1 = _ratio(2 * precision * recall, precision + recall)
        if sums.rows is not None:
            auc, bound = exact_auc(sums.rows[0][:, k], sums.rows[1][:, k], sums.rows[2]), 0.0
        else:
            auc, bound = histogram_auc(sums.positive_histogram[k], sums.negative_histogram[k])
        per_class.append(
            {
                "class": _plain(label),
                "auc": auc,
                "auc_error_bound": bound,
                "roc": roc_points(sums.positive_histogram[k], sums.negative_histogram[k]),
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "weight": float(sums.true_weight[k]),
                "calibration": _calibration_table(sums.calibration[k]),
            }
        )
    return {
        "rows_weight": W,
        "log_loss": sums.log_loss / W,
        "accuracy": sums.correct / W,
        "brier": sums.brier / W,
        "threshold": threshold if binary else None,
        "auc_exact": sums.rows is not None,
        "classes": per_class,
    }


def exact_auc(scores: np.ndarray, is_class: np.ndarray, w: np.ndarray) -> float | None:
    """Weighted Mann–Whitney AUC: ties between a positive and a negative count half."""
    order = np.argsort(scores, kind="stable")
    scores, positive, w = scores[order], is_class[order] == 1, w[order]
    starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])
    pos = np.add.reduceat(np.where(positive, w, 0.0), starts)
    neg = np.add.reduceat(np.where(positive, 0.0, w), starts)
    P, N = pos.sum(), neg.sum()
    if P == 0 or N == 0:
        return None
    below = np.cumsum(neg) - neg  # negatives with a lower score than the group
    return float((pos @ below + 0.5 * pos @ neg) / (P * N))


def histogram_auc(positive: np.ndarray, negative: np.ndarray) -> tuple[float | None, float]:
    """AUC from score histograms, and its error bound (pairs within one bin)."""
    P, N = positive.sum(), negative.sum()
    if P == 0 or N == 0:
        return None, 0.0
    below = np.cumsum(negative) - negative
    auc = (positive @ below + 0.5 * positive @ negative) / (P * N)
    return float(auc), float(0.5 * (positive @ negative) / (P * N))


def roc_points(positive: np.ndarray, negative: np.ndarray, limit: int = ROC_POINTS) -> dict:
    """The ROC curve from the score histograms, thinned to at most ``limit`` points:
    {"fpr": [...], "tpr": [...]}, from (0, 0) to (1, 1), thresholds from high to low."""
    P, N = positive.sum(), negative.sum()
    if P == 0 or N == 0:
        return {"fpr": [], "tpr": []}
    tpr = np.concatenate([[0.0], np.cumsum(positive[::-1]) / P])
    fpr = np.concatenate([[0.0], np.cumsum(negative[::-1]) / N])
    keep = np.unique(np.linspace(0, tpr.size - 1, min(limit, tpr.size)).astype(np.intp))
    return {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}


def _calibration_table(table: np.ndarray) -> list[dict]:
    predicted, observed, weight = table
    return [
        {
            "bin": [b / CALIBRATION_BINS, (b + 1) / CALIBRATION_BINS],
            "mean_predicted": _ratio(predicted[b], weight[b]),
            "observed": _ratio(observed[b], weight[b]),
            "weight": float(weight[b]),
        }
        for b in range(CALIBRATION_BINS)
    ]


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
