"""Levels of categorical columns (``data/levels.py``), against scikit-learn's
``OneHotEncoder`` on the same values: the same kept levels in the same order, the same
"other" (infrequent) level, and each row's code equal to its one-hot column."""

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.preprocessing import OneHotEncoder

from dasklr.data.levels import OTHER, levels_from_counts
from dasklr.data.parquet import read_parquet
from dasklr.errors import DataError


def _values(seed=0, n=3000):
    rng = np.random.default_rng(seed)
    names = np.array([f"r{k:02d}" for k in range(25)])
    weights = rng.dirichlet(np.full(25, 0.6))
    return names[rng.choice(25, size=n, p=weights)]


@pytest.mark.parametrize(
    ("min_frequency", "max_levels"), [(1, None), (40, None), (1, 8), (25, 6), (1, 30)]
)
def test_levels_and_codes_match_one_hot_encoder(min_frequency, max_levels):
    values = _values()
    levels = levels_from_counts("region", Counter(values), min_frequency, max_levels, None)
    encoder = OneHotEncoder(
        min_frequency=min_frequency, max_categories=max_levels, handle_unknown="error"
    ).fit(values[:, None])
    infrequent = encoder.infrequent_categories_[0]
    frequent = [c for c in encoder.categories_[0] if infrequent is None or c not in infrequent]
    assert list(levels.values) == frequent
    assert sorted(levels.folded) == ([] if infrequent is None else sorted(infrequent))
    codes = levels.codes(pa.array(values), "test")
    columns = np.asarray(encoder.transform(values[:, None]).todense()).argmax(axis=1)
    np.testing.assert_array_equal(codes, columns)
    assert levels.coded[-1] == OTHER if levels.folded else OTHER not in levels.coded


def test_reference_level_has_no_coefficient(tmp_path):
    values = np.array(["b", "a", "c", "a", "b", "b"])
    pq.write_table(pa.table({"g": values[:3], "y": [0, 1, 0]}), tmp_path / "one.parquet")
    two = pa.table({"g": pa.array(values[3:]).dictionary_encode(), "y": [1, 0, 1]})
    pq.write_table(two, tmp_path / "two.parquet")
    paths = [str(tmp_path / "one.parquet"), str(tmp_path / "two.parquet")]
    [levels] = read_parquet(paths, "y", categorical=["g"]).levels  # one read of g per file
    assert (levels.values, levels.reference, levels.coded) == (("a", "b", "c"), "a", ("b", "c"))
    np.testing.assert_array_equal(levels.codes(pa.array(values), "x"), [0, -1, 1, -1, 0, 0])
    assert levels.coefficient_names() == ["g[b]", "g[c]"]
    [chosen] = read_parquet(paths, "y", categorical=["g"], reference={"g": "b"}).levels
    np.testing.assert_array_equal(chosen.codes(pa.array(values), "x"), [-1, 0, 1, 0, -1, -1])


def test_bool_and_integer_columns_keep_their_text(tmp_path):
    table = pa.table({"b": [True, False, True], "k": [3, 10, 3], "y": [0, 1, 1]})
    pq.write_table(table, tmp_path / "f.parquet")
    paths = [str(tmp_path / "f.parquet")]
    flags, sizes = read_parquet(paths, "y", categorical=["b", "k"], reference={"k": None}).levels
    assert (flags.values, flags.coded) == (("false", "true"), ("true",))
    np.testing.assert_array_equal(flags.codes(pa.array([True, False]), "x"), [0, -1])
    assert sizes.values == ("10", "3")  # sorted as text, the order kept in the model
    np.testing.assert_array_equal(sizes.codes(pa.array([3, 10]), "x"), [1, 0])


def test_unseen_levels_are_an_error_or_other():
    levels = levels_from_counts("g", Counter({"a": 10, "b": 10, "c": 1}), 5, None, "a")
    assert levels.coded == ("b", OTHER)
    with pytest.raises(DataError, match=r"holds 'z' in file\.parquet, a level the model has not"):
        levels.codes(pa.array(["b", "z"]), "file.parquet")
    np.testing.assert_array_equal(levels.codes(pa.array(["b", "z", "c"]), "f", "other"), [0, 1, 1])
    with pytest.raises(DataError, match="has nulls"):
        levels.codes(pa.array(["b", None]), "f")
