"""Tables as input: a Dask DataFrame stays lazy and distributed, pandas, polars and
pyarrow tables come with their column names; Dask arrays of unknown chunk lengths."""

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import dasklr
from dasklr.data.synthetic import make_classification

NAMES = ["age", "income", "tenure"]


@pytest.fixture(scope="module")
def data():
    X, y, _, _ = make_classification(4000, 3, seed=41)
    frame = pd.DataFrame(X, columns=NAMES).assign(y=y.astype(int))
    return X, y.astype(int), frame


@pytest.fixture(scope="module")
def reference(client, data):
    X, y, _ = data
    return dasklr.LogisticRegression(alpha=1e-3, tol=1e-10, client=client).fit(X, y)


def test_a_dask_dataframe_stays_lazy_and_keeps_its_names(client, data, reference):
    """Its partitions are the chunks (the fit's tasks read them on the workers), its
    column names are the feature names, and predictions stay lazy."""
    X, _, frame = data
    ddf = dd.from_pandas(frame, npartitions=5)
    model = dasklr.LogisticRegression(alpha=1e-3, tol=1e-10, client=client)
    model.fit(ddf[NAMES], ddf["y"])
    assert model.feature_names_in_.tolist() == NAMES
    # another chunking than the reference's: the same optimum to rounding
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-12)
    proba = model.predict_proba(ddf[NAMES])
    assert isinstance(proba, da.Array) and proba.numblocks[0] == 5
    np.testing.assert_allclose(client.compute(proba).result(), reference.predict_proba(X))
    with pytest.raises(ValueError, match="feature names differ"):
        model.predict(ddf[NAMES[::-1]])


def test_filtered_dask_data_of_unknown_lengths(client, data, reference):
    """A filter leaves Dask without the chunk lengths; they are computed once."""
    X, y, frame = data
    ddf = dd.from_pandas(frame, npartitions=4)
    kept = ddf[ddf.age > -1e9]  # every row, lengths unknown
    model = dasklr.LogisticRegression(alpha=1e-3, tol=1e-10, client=client)
    model.fit(kept[NAMES], kept["y"])
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-12)
    Xd, yd = da.from_array(X, chunks=(700, 3)), da.from_array(y, chunks=700)
    rows = Xd[:, 0] > -1e9
    assert np.isnan(Xd[rows].chunks[0][0])
    model = dasklr.LogisticRegression(alpha=1e-3, tol=1e-10, client=client)
    model.fit(Xd[rows], yd[rows])
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "as_table",
    [
        pytest.param(lambda f: f[NAMES], id="pandas"),
        pytest.param(lambda f: pl.from_pandas(f[NAMES]), id="polars"),
        pytest.param(lambda f: pa.Table.from_pandas(f[NAMES], preserve_index=False), id="arrow"),
    ],
)
def test_in_memory_tables_give_the_array_fit_with_names(client, data, reference, as_table):
    X, y, frame = data
    table = as_table(frame)
    model = dasklr.LogisticRegression(alpha=1e-3, tol=1e-10, client=client).fit(table, y)
    assert model.feature_names_in_.tolist() == NAMES
    np.testing.assert_array_equal(model.coef_, reference.coef_)  # the same rows, chunks
    np.testing.assert_array_equal(model.predict_proba(table), reference.predict_proba(X))
    np.testing.assert_array_equal(model.predict(table), reference.predict(X))
