"""Sandwich and cluster-robust covariance from chunk sums, against statsmodels' Logit.

Reference: ``sm.Logit(...).fit(cov_type="HC0")`` and ``fit(cov_type="cluster",
cov_kwds={"groups": g})`` on the whole data; ours from ``robust_sums`` on uneven chunks
(clusters spread over every chunk) merged in several orders. statsmodels orders the
parameters [const, x…], ours [x…, const]: ``to_ours`` reorders its matrices. Tolerance
1e-6 relative per entry, or relative to the largest entry for entries near 0.
"""

import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from dasklr.data.groups import group_codes
from dasklr.kernels.numerics import sigmoid
from dasklr.kernels.robust import RobustSums, robust_sums
from dasklr.passes.merge import merge_sums
from dasklr.stats.robust import cluster_covariance, drop_intercept, sandwich_covariance

RTOL = 1e-6
#: uneven chunk boundaries, as fractions of the rows
CUTS = (0.1, 0.35, 0.4, 0.8)


def spector():
    data = sm.datasets.spector.load_pandas()  # bundled with statsmodels: 32 rows, 3 features
    X, y = data.exog.to_numpy(float), data.endog.to_numpy(float)
    return X, y, np.arange(y.size) % 5


def generated():
    rng = np.random.default_rng(17)
    X = rng.normal(size=(3000, 5)) * [1.0, 2.0, 0.5, 1.0, 3.0] + [0.0, 1.0, 0.0, -2.0, 0.0]
    cluster = rng.integers(0, 40, size=3000)  # ~75 rows per cluster, in every chunk
    margin = X @ [0.5, -0.25, 1.0, 0.3, 0.1] - 0.4 + rng.normal(size=40)[cluster]
    y = (rng.random(3000) < sigmoid(margin)).astype(float)
    return X, y, cluster


def fit(y, exog, **cov):
    return sm.Logit(y, exog).fit(disp=0, tol=1e-12, maxiter=100, **cov)


def to_ours(matrix):
    """statsmodels' [const, x…] order to ours, [x…, const]."""
    matrix = np.asarray(matrix)
    order = [*range(1, matrix.shape[0]), 0]
    return matrix[np.ix_(order, order)]


def assert_close(mine, theirs, rtol=RTOL):
    theirs = np.asarray(theirs)
    np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=rtol * np.abs(theirs).max())


def chunk_sums(X, y, weight, codes, coef, intercept):
    bounds = [0, *(int(cut * y.size) for cut in CUTS), y.size]
    return [
        robust_sums(
            X[a:b],
            y[a:b],
            None if weight is None else weight[a:b],
            None if codes is None else codes[a:b],
            coef,
            intercept,
        )
        for a, b in itertools.pairwise(bounds)
    ]


def merge_orders(parts):
    """The same partials merged left to right, right to left, as a tree and shuffled."""
    shuffled = [parts[i] for i in np.random.default_rng(3).permutation(len(parts))]
    return {
        "left": merge_sums(*parts),
        "right": merge_sums(*parts[::-1]),
        "tree": (parts[0] + parts[1]) + (parts[2] + (parts[3] + parts[4])),
        "shuffled": merge_sums(*shuffled),
    }


@pytest.mark.parametrize("dataset", [spector, generated])
def test_hc0_and_hessian_match_statsmodels(dataset):
    X, y, _ = dataset()
    exog = sm.add_constant(X)
    reference = fit(y, exog, cov_type="HC0")
    coef, intercept = reference.params[1:], reference.params[0]
    for order, total in merge_orders(chunk_sums(X, y, None, None, coef, intercept)).items():
        assert total.rows == y.size and total.weight == y.size, order
        assert total.group_keys is None and total.group_scores is None
        # statsmodels' hessian is of the log-likelihood: ours is its negative
        assert_close(total.hessian, to_ours(-reference.model.hessian(reference.params)))
        cov = sandwich_covariance(total.hessian, total.meat)
        assert_close(cov, to_ours(reference.cov_params()))


@pytest.mark.parametrize("dataset", [spector, generated])
@pytest.mark.parametrize("labels", ["integers", "strings"])
def test_cluster_covariance_matches_statsmodels(dataset, labels):
    X, y, cluster = dataset()
    groups = cluster if labels == "integers" else np.array([f"firm-{c}" for c in cluster])
    reference = fit(y, sm.add_constant(X), cov_type="cluster", cov_kwds={"groups": groups})
    coef, intercept = reference.params[1:], reference.params[0]
    codes = group_codes(groups)
    for total in merge_orders(chunk_sums(X, y, None, codes, coef, intercept)).values():
        assert total.group_scores.shape == (np.unique(cluster).size, X.shape[1] + 1)
        cov = cluster_covariance(total.hessian, total.group_scores, total.rows)
        assert_close(cov, to_ours(reference.cov_params()))


@pytest.mark.parametrize("dataset", [spector, generated])
def test_no_intercept_matches_statsmodels(dataset):
    X, y, cluster = dataset()
    hc0 = fit(y, X, cov_type="HC0")
    clustered = fit(y, X, cov_type="cluster", cov_kwds={"groups": cluster})
    parts = chunk_sums(X, y, None, group_codes(cluster), hc0.params, 0.0)
    total = drop_intercept(merge_sums(*parts))
    assert total.hessian.shape == (X.shape[1],) * 2
    assert_close(total.hessian, -hc0.model.hessian(hc0.params))
    assert_close(sandwich_covariance(total.hessian, total.meat), hc0.cov_params())
    # K = d here, not d + 1: the correction must see the smaller Hessian
    cov = cluster_covariance(total.hessian, total.group_scores, total.rows)
    assert_close(cov, clustered.cov_params())


def test_merging_is_addition_in_any_order():
    """Every order agrees to float-rounding; two partials give the same bits either way."""
    X, y, cluster = generated()
    codes = group_codes(cluster)
    parts = chunk_sums(X, y, None, codes, np.array([0.5, -0.2, 1.0, 0.3, 0.1]), -0.4)
    totals = list(merge_orders(parts).values())
    whole = robust_sums(X, y, None, codes, np.array([0.5, -0.2, 1.0, 0.3, 0.1]), -0.4)
    for total in totals:
        np.testing.assert_array_equal(total.group_keys, np.unique(codes))
        for field in ("hessian", "meat", "group_scores"):
            np.testing.assert_allclose(getattr(total, field), getattr(whole, field), rtol=1e-12)
    a, b = parts[0] + parts[2], parts[1] + parts[3]
    for field in ("hessian", "meat", "group_keys", "group_scores"):
        np.testing.assert_array_equal(getattr(a + b, field), getattr(b + a, field))


def test_frequency_weights_equal_repeated_rows_in_the_bread_and_cluster_scores():
    """Weights are sampling weights: the row score is w·(h − y)·x̃, so H and the per-cluster
    scores match repeated rows but the HC0 meat holds w², not w."""
    X, y, cluster = generated()
    counts = np.random.default_rng(5).integers(0, 4, size=y.size)
    codes = group_codes(cluster)
    coef, intercept = np.array([0.5, -0.2, 1.0, 0.3, 0.1]), -0.4
    weighted = merge_sums(*chunk_sums(X, y, counts.astype(float), codes, coef, intercept))
    repeat = np.repeat(np.arange(y.size), counts)
    repeated = robust_sums(X[repeat], y[repeat], None, codes[repeat], coef, intercept)
    np.testing.assert_allclose(weighted.hessian, repeated.hessian, rtol=1e-10)
    np.testing.assert_array_equal(weighted.group_keys, repeated.group_keys)
    np.testing.assert_allclose(weighted.group_scores, repeated.group_scores, rtol=1e-9, atol=1e-9)
    assert weighted.weight == repeated.rows == counts.sum()
    assert weighted.rows == y.size
    assert not np.allclose(weighted.meat, repeated.meat, rtol=1e-3)


def test_large_margins_keep_their_digits():
    """At z = ±40, 1 − σ(z) rounds to 0; h(1 − h) and h − y must still be e⁻⁴⁰-sized."""
    X = np.array([[40.0], [-40.0], [40.0]])
    y = np.array([1.0, 0.0, 0.0])
    sums = robust_sums(X, y, None, np.array([7, 7, 8]), np.array([1.0]), 0.0)
    tail = math.exp(-40.0) / (1.0 + math.exp(-40.0)) ** 2  # σ(40)·σ(−40), closed form
    assert sums.hessian[1, 1] == pytest.approx(3 * tail, rel=1e-12)
    assert sums.hessian[0, 0] == pytest.approx(3 * 1600 * tail, rel=1e-12)
    # rows 0 and 1 are fitted to e⁻⁴⁰; row 2 (y = 0, h ≈ 1) has residual ≈ 1
    small = math.exp(-40.0) / (1.0 + math.exp(-40.0))
    np.testing.assert_allclose(sums.group_scores[0], [-80.0 * small, 0.0], atol=1e-30)
    np.testing.assert_allclose(sums.group_scores[1], [40.0, 1.0], rtol=1e-12)


def test_group_codes_agree_across_chunks_and_processes():
    labels = ["north", "south", "east", "west", "north-east"]
    # two chunks sharing "north" and "east", one a list and one a NumPy text column
    first = dict(zip(labels[:3], group_codes(labels[:3]).tolist(), strict=True))
    second = dict(zip(labels[::-2], group_codes(np.array(labels[::-2])).tolist(), strict=True))
    assert first["north"] == second["north"] and first["east"] == second["east"]
    everything = group_codes(labels)
    assert len(set(everything.tolist())) == len(labels) and everything.dtype == np.int64
    assert (everything >= 0).all()  # hashes are 63-bit
    # Python's hash() would differ with the hash seed; these codes must not
    script = f"from dasklr.data.groups import group_codes; print(group_codes({labels!r}).tolist())"
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        root = Path(__file__).resolve().parents[1]
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=root, capture_output=True, check=True
        )
        assert out.stdout.decode().strip() == str(everything.tolist())


def test_group_codes_of_numbers_are_the_numbers():
    assert group_codes(np.array([3, -7, 2**40])).tolist() == [3, -7, 2**40]
    assert group_codes(np.array([True, False])).tolist() == [1, 0]
    assert group_codes(np.array([3.0, -7.0])).tolist() == [3, -7]
    assert group_codes(pd.Series([3, 4], dtype="Int64")).tolist() == [3, 4]
    # a whole float is its integer; a list keeps its element types (1 is not "1")
    mixed = group_codes([1, "1", 1.0, 1.5, b"1"])
    assert mixed[0] == mixed[2] == 1 and len({*mixed.tolist()}) == 3
    assert mixed[1] == mixed[4]  # str is hashed as its UTF-8 bytes
    # the same labels as a float column and as objects give the same codes
    floats = np.array([2.0, 2.5, -1e300])
    assert group_codes(floats).tolist() == group_codes(list(floats)).tolist()


@pytest.mark.parametrize(
    ("labels", "named"),
    [
        (np.array([1.0, np.nan, 2.0]), "nan at row 1"),
        (["a", None], "None at row 1"),
        (pd.Series([1, None, 3], dtype="Int64"), "nan at row 1"),  # NumPy sees float NaN
        (pd.Series(["a", None, "b"], dtype="string"), "<NA> at row 1"),
        (np.array(["2024-01-01", "NaT"], dtype="datetime64[D]"), "NaT"),
    ],
)
def test_group_codes_reject_missing_labels_naming_them(labels, named):
    with pytest.raises(ValueError, match=named):
        group_codes(labels)


def test_bad_groups_are_refused_with_what_was_expected():
    X, y = np.ones((4, 2)), np.array([0.0, 1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="group_codes"):
        robust_sums(X, y, None, np.array(["a", "b", "a", "b"]), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        robust_sums(X, y, None, np.array([1, 2]), np.zeros(2), 0.0)
    with_groups = robust_sums(X, y, None, np.arange(4), np.zeros(2), 0.0)
    without = robust_sums(X, y, None, None, np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="groups for every chunk or for none"):
        with_groups + without
    with pytest.raises(ValueError, match="at least 2 clusters"):
        cluster_covariance(np.eye(3), np.ones((1, 3)), 10)
    assert isinstance(with_groups, RobustSums)
