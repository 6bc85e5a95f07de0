"""Sandwich (HC0) and cluster-robust covariance of a binary logistic fit, from chunk sums.

The model-based covariance H⁻¹ is only right when the model is; the sandwich
H⁻¹·M·H⁻¹ stays consistent when it is not (White's HC0), and summing scores within a
cluster before the outer product (CRV1) allows any correlation inside a cluster. Both
are sums over rows, so each chunk returns raw sums and partials merge by addition:

* bread: H = Σ w·h(1−h)·x̃x̃ᵀ, the Hessian of the negative log-likelihood;
* HC0 meat: M = Σ gᵢgᵢᵀ with the row score gᵢ = wᵢ·(hᵢ − yᵢ)·x̃ᵢ;
* cluster meat: Σ_c s_c s_cᵀ with s_c = Σ_{i∈c} gᵢ, so each chunk keeps s_c per
  cluster key and merging adds the scores of the keys two partials share.

Here h = σ(x·θ + b), x̃ = [x, 1] (intercept last, as ``kernels.gram``), and every sum is
float64. Weights are sampling weights: row i's score is wᵢ·(hᵢ − yᵢ)·x̃ᵢ, so the meat
holds w², not w — integer weights are *not* the same as repeated rows there (they are
for H and for the per-cluster scores).
"""

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from dasklr.kernels import GRAM_BLOCK_ROWS, float64_rows, gram
from dasklr.numerics import sigmoid

#: Integers (and whole floats) in this range are their own group code.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


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
) -> RobustSums:
    """Bread, HC0 meat and (with ``groups``) per-cluster scores of one chunk at (θ, b).

    ``groups`` holds int64 codes from ``group_codes``, so that a cluster split across
    chunks or processes gets one key. With q = σ(−z) = 1 − h computed directly,
    h(1−h) = h·q and h − y = h·(1−y) − q·y keep their digits for large |z|, where
    1 − h would round to 0.
    """
    X = float64_rows(X)
    n = X.shape[0]
    y = np.asarray(y, dtype=np.float64)
    z = np.asarray(X @ coef, dtype=np.float64) + intercept
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
        hessian=gram(X, curvature),
        meat=gram(X, score * score),
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
            "dasklr.robust.group_codes so every chunk agrees on them"
        )
    return codes.astype(np.int64, copy=False)


def _group_scores(
    X: np.ndarray, score: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique codes and Σ score·x̃ within each, in row blocks (block × d temporaries)."""
    n, d = X.shape
    keys, where = np.unique(codes, return_inverse=True)
    sums = np.zeros((keys.size, d + 1))
    for start in range(0, n, GRAM_BLOCK_ROWS):
        rows = slice(start, start + GRAM_BLOCK_ROWS)
        np.add.at(sums[:, :d], where[rows], X[rows] * score[rows, None])
    sums[:, d] = np.bincount(where, weights=score, minlength=keys.size)
    return keys, sums


def drop_intercept(sums: RobustSums) -> RobustSums:
    """The sums of a model without intercept: the last row and column go.

    Call ``robust_sums`` with ``intercept=0.0``; since x̃ = [x, 1], dropping the
    intercept's entries leaves exactly the sums over x alone, and K becomes d.
    """
    return RobustSums(
        hessian=sums.hessian[:-1, :-1],
        meat=sums.meat[:-1, :-1],
        group_keys=sums.group_keys,
        group_scores=None if sums.group_scores is None else sums.group_scores[:, :-1],
        rows=sums.rows,
        weight=sums.weight,
    )


def sandwich_covariance(hessian: np.ndarray, meat: np.ndarray) -> np.ndarray:
    """H⁻¹·M·H⁻¹, by two solves (no explicit inverse), made exactly symmetric.

    With the ``robust_sums`` pieces this is statsmodels' ``cov_type="HC0"`` for Logit
    (``cov_white_simple(use_correction=False)``: no small-sample factor).
    """
    try:
        left = np.linalg.solve(hessian, meat)  # H⁻¹·M
        cov = np.linalg.solve(hessian, left.T)  # H⁻¹·(H⁻¹·M)ᵀ = H⁻¹·M·H⁻¹, M and H symmetric
    except np.linalg.LinAlgError as error:
        raise np.linalg.LinAlgError(
            f"the {hessian.shape[0]}×{hessian.shape[0]} Hessian is singular: a constant or "
            "collinear feature, or classes separated perfectly"
        ) from error
    return (cov + cov.T) / 2.0


def cluster_covariance(hessian: np.ndarray, group_scores: np.ndarray, nobs: int) -> np.ndarray:
    """Cluster-robust (CRV1) covariance: H⁻¹·(Σ_g s_g s_gᵀ)·H⁻¹ times G/(G−1)·(N−1)/(N−K).

    The factor is statsmodels' default for ``fit(cov_type="cluster")``
    (``use_correction=True``; ``stats/sandwich_covariance.py``, ``cov_cluster``):
    G clusters, N = ``nobs`` rows (statsmodels counts rows, not weights; pass
    ``RobustSums.rows``) and K = number of parameters, ``hessian.shape[0]`` — d + 1, or
    d after ``drop_intercept``.
    """
    n_groups, n_params = group_scores.shape
    if n_params != hessian.shape[0]:
        raise ValueError(
            f"expected group scores with {hessian.shape[0]} columns (the Hessian's size), "
            f"got {n_params}"
        )
    if n_groups < 2 or nobs <= n_params:
        raise ValueError(
            f"cluster-robust covariance needs at least 2 clusters and more rows than the "
            f"{n_params} parameters, got {n_groups} clusters and {nobs} rows"
        )
    meat = group_scores.T @ group_scores
    correction = n_groups / (n_groups - 1.0) * (nobs - 1.0) / (nobs - n_params)
    return sandwich_covariance(hessian, meat) * correction


def group_codes(values) -> np.ndarray:
    """int64 cluster codes for one chunk of labels, equal for equal labels in any chunk
    or process, so clusters split across chunks merge by key.

    Integers map to themselves, booleans to 0/1, whole floats to that integer (a column
    read as float because of missing values keeps its codes). Text (str as UTF-8, bytes
    as they are), other floats and other values (by ``str``, which must not change
    between processes) map to the first 63 bits of their BLAKE2b digest — Python's
    ``hash`` is salted per process. Distinct labels could in principle share a code
    (about n²/2⁶⁴ for n hashed labels), or a hashed label equal an integer label.
    Missing labels (None, NaN, NaT, pandas' NA) raise ValueError: drop or fill them.

    >>> bool(group_codes(["a", "b", "a"])[2] == group_codes(["a"])[0])
    True
    >>> group_codes([3, 4.0, True]).tolist()
    [3, 4, 1]
    """
    if not hasattr(values, "dtype"):  # a list: object keeps [1, "a"] from becoming text
        values = np.array(list(values), dtype=object)
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D column of group labels, got shape {values.shape}")
    kind = values.dtype.kind
    if kind in "bi":
        return values.astype(np.int64)
    if kind == "u":
        if values.size and values.max() > _INT64_MAX:
            raise ValueError(f"group label {values.max()} does not fit in int64")
        return values.astype(np.int64)
    if kind == "f":
        return _float_codes(values.astype(np.float64, copy=False))
    if kind in "US":  # fixed-width text: hash each distinct label once
        distinct, where = np.unique(values, return_inverse=True)
        return np.array([_label_code(label) for label in distinct], dtype=np.int64)[where]
    seen: dict = {}
    codes = np.empty(values.size, dtype=np.int64)
    for row, label in enumerate(values):
        key = (type(label), label)  # 1 == 1.0 == True share a hash; keep types apart
        if key not in seen:
            seen[key] = _label_code(label, row)
        codes[row] = seen[key]
    return codes


def _float_codes(values: np.ndarray) -> np.ndarray:
    """Codes of a float column: whole numbers in int64 range as ints, others hashed."""
    missing = np.flatnonzero(np.isnan(values))
    if missing.size:
        raise ValueError(f"group label nan at row {missing[0]}: drop or fill missing labels")
    whole = (values == np.floor(values)) & (values >= _INT64_MIN) & (values < 2.0**63)
    codes = np.zeros(values.size, dtype=np.int64)
    codes[whole] = values[whole].astype(np.int64)
    for row in np.flatnonzero(~whole):
        codes[row] = _label_code(float(values[row]), row)
    return codes


def _label_code(label, row: int | None = None) -> int:
    """One label's code, by the rules of ``group_codes``."""
    where = "" if row is None else f" at row {row}"
    if isinstance(label, bool | np.bool_):
        return int(label)
    if isinstance(label, int | np.integer):
        if not _INT64_MIN <= int(label) <= _INT64_MAX:
            raise ValueError(f"group label {label}{where} does not fit in int64")
        return int(label)
    if isinstance(label, float | np.floating):
        value = float(label)
        if math.isnan(value):
            raise ValueError(f"group label nan{where}: drop or fill missing labels")
        if value.is_integer() and _INT64_MIN <= value < 2.0**63:
            return int(value)
        return _digest_code(b"float\x00" + repr(value).encode())
    if isinstance(label, str):
        return _digest_code(label.encode("utf-8"))
    if isinstance(label, bytes | bytearray | memoryview):
        return _digest_code(bytes(label))
    if label is None or _is_missing(label):
        raise ValueError(f"group label {label!r}{where}: drop or fill missing labels")
    return _digest_code(b"other\x00" + str(label).encode("utf-8"))


def _is_missing(label) -> bool:
    """True for values unequal to themselves (NaT, Decimal NaN) or whose self-comparison
    is ambiguous (pandas' NA), without importing pandas."""
    try:
        return bool(label != label)
    except (TypeError, ValueError):
        return True


def _digest_code(data: bytes) -> int:
    """The first 63 bits of BLAKE2b: non-negative, identical in every process."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1
