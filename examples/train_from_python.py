"""Train dasklr from Python on a generated Parquet dataset, and compare with the truth.

    python examples/train_from_python.py

Writes a few Parquet files to a temporary folder, trains on them with an embedded local
Dask cluster, prints the fitted and the true coefficients, saves the model and loads it.
"""

import tempfile
from pathlib import Path

import numpy as np

import dasklr
from dasklr.data.synthetic import make_parquet_dataset


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        true_coef, true_intercept = make_parquet_dataset(
            folder, n_rows=100_000, n_features=8, n_files=4, row_group_rows=10_000
        )

        data = dasklr.read_parquet(folder, label="y")  # lazy: only footers are read
        print(
            f"{data.X.shape[0]} rows, features {data.feature_names}, {data.X.numblocks[0]} chunks"
        )

        model = dasklr.LogisticRegression(alpha=1e-6, tol=1e-7, max_iter=2000)
        model.fit(data)  # starts a local Dask cluster for the fit, then closes it
        print(
            f"converged={model.converged_} in {model.n_iter_} iterations, {model.n_passes_} passes"
        )
        print("fitted coef:", np.round(model.coef_[0], 3), "intercept:", model.intercept_.round(3))
        print("true   coef:", np.round(true_coef, 3), "intercept:", round(true_intercept, 3))

        model.save(Path(tmp) / "model")
        loaded = dasklr.load_model(Path(tmp) / "model")
        X = data.X[:5].compute()
        print("P(y=1) of the first rows:", loaded.predict_proba(X)[:, 1].round(3))


if __name__ == "__main__":
    main()
