import numpy as np

import dasklr
from dasklr.synthetic import make_parquet_dataset


def test_fit_parquet_on_cluster(client, tmp_path):
    make_parquet_dataset(tmp_path, 3000, 4, n_files=2, row_group_rows=500)
    model = dasklr.LogisticRegression(alpha=1e-2, client=client).fit(
        dasklr.read_parquet(tmp_path, label="y")
    )
    assert model.converged_
    assert np.isfinite(model.coef_).all()
