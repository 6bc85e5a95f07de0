"""Fit scikit-learn's breast-cancer data with dasklr on a Dask cluster and with scikit-learn.

    python -m pip install -e ".[test]"   # scikit-learn is only needed for this comparison
    python examples/compare_with_sklearn.py

Both minimise the same objective: dasklr's ``alpha`` is scikit-learn's ``1 / (C · n_rows)``.
The data is standardised and written to Parquet; dasklr trains on a two-worker
``LocalCluster`` passed as ``client=``, as it would on any existing cluster.
"""

import tempfile
from pathlib import Path

import numpy as np
from distributed import Client, LocalCluster
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.preprocessing import StandardScaler

import dasklr
from dasklr.data.synthetic import write_parquet_dataset

ALPHA = 1e-2


def main() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    n = X.shape[0]
    reference = SklearnLogisticRegression(C=1.0 / (ALPHA * n), tol=1e-10, max_iter=10_000)
    reference.fit(X, y)

    with tempfile.TemporaryDirectory() as tmp, LocalCluster(n_workers=2) as cluster:
        write_parquet_dataset(Path(tmp), X, y, n_files=3, row_group_rows=64)
        with Client(cluster) as client:
            model = dasklr.LogisticRegression(alpha=ALPHA, tol=1e-8, max_iter=5000, client=client)
            model.fit(dasklr.read_parquet(tmp, label="y"))

    gap = np.abs(model.coef_ - reference.coef_).max()
    print(f"dasklr: {model.n_iter_} iterations, {model.n_passes_} passes")
    print(f"max |coef difference| with scikit-learn: {gap:.2e}")
    print(
        f"intercepts: dasklr {model.intercept_[0]:.6f}, scikit-learn {reference.intercept_[0]:.6f}"
    )


if __name__ == "__main__":
    main()
