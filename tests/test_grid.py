"""The regularisation path and cross-validation: every model of a grid in the same passes.

References: independent cold fits of dasklr (objective within 1e-8), scikit-learn's
LogisticRegression on each fold's training rows (held-out log-loss within 1e-6), and
scikit-learn's LogisticRegressionCV on the same folds (the same alpha chosen).
"""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import PredefinedSplit

import dasklr
from dasklr.data.synthetic import make_classification
from dasklr.errors import ConfigError
from dasklr.kernels.folds import fold_ids, fold_of

ALPHAS = [1e-1, 1e-2, 1e-3, 1e-4]


@pytest.fixture(scope="module")
def data():
    X, y, _, _ = make_classification(4000, 6, seed=21)
    return X, y.astype(float)


def test_folds_are_a_deterministic_hash_of_the_row_index():
    folds = fold_ids(100_000, 5)
    np.testing.assert_array_equal(folds, fold_ids(100_000, 5))
    np.testing.assert_array_equal(folds[50_000:], fold_of(np.arange(50_000, 100_000), 5))
    shares = np.bincount(folds) / folds.size
    assert np.all(np.abs(shares - 0.2) < 0.005)  # binomial sd ≈ 0.0013
    assert not np.array_equal(folds, fold_ids(100_000, 5, seed=1))


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_path_matches_cold_fits_at_every_alpha(client, data, solver):
    X, y = data
    path = dasklr.fit_path(X, y, alphas=ALPHAS, solver=solver, tol=1e-9, client=client)
    assert list(path.alphas) == sorted(ALPHAS, reverse=True)
    cold_passes = []
    for k, alpha in enumerate(path.alphas):
        cold = dasklr.LogisticRegression(alpha=alpha, solver=solver, tol=1e-9, client=client)
        cold.fit(X, y)
        cold_passes.append(cold.n_passes_)
        assert abs(path.objective[k] - cold.history_[-1]["objective"]) <= 1e-8
        np.testing.assert_allclose(path.coef[k], cold.coef_, rtol=0, atol=1e-6)
        assert path.converged[k]
    # all alphas share each pass: the path costs its slowest model, not the sum
    assert path.n_passes <= max(cold_passes) + 1
    assert sum(cold_passes) >= 3 * path.n_passes


def test_path_standardized_multinomial_matches_cold_fits(client):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)  # bundled with scikit-learn: 3 classes
    X = X * [1.0, 100.0, 0.01, 3.0]
    path = dasklr.fit_path(X, y, alphas=[1e-2, 1e-3], standardize=True, tol=1e-9, client=client)
    for k, alpha in enumerate(path.alphas):
        cold = dasklr.LogisticRegression(alpha=alpha, standardize=True, tol=1e-9, client=client)
        cold.fit(X, y)
        assert abs(path.objective[k] - cold.history_[-1]["objective"]) <= 1e-8
        assert path.coef[k].shape == (3, 4)


def _sklearn_fold_scores(X, y, folds, alphas):
    """Held-out mean log-loss per (alpha, fold), from scikit-learn fits of each fold's rows.

    F = mean loss + alpha/2·‖θ‖² is scikit-learn's objective divided by C·n_train, so
    C = 1 / (alpha·n_train) with this fold's training rows.
    """
    scores = np.zeros((len(alphas), folds.max() + 1))
    for f in range(folds.max() + 1):
        train, test = folds != f, folds == f
        for k, alpha in enumerate(alphas):
            reference = SkLogisticRegression(
                C=1.0 / (alpha * train.sum()), solver="newton-cholesky", tol=1e-12, max_iter=200
            ).fit(X[train], y[train])
            scores[k, f] = log_loss(y[test], reference.predict_proba(X[test]))
    return scores


def test_cv_scores_match_sklearn_fits_of_the_same_folds(client, data):
    X, y = data
    model = dasklr.LogisticRegressionCV(alphas=ALPHAS, cv=5, tol=1e-10, client=client).fit(X, y)
    folds = fold_ids(len(y), 5)
    expected = _sklearn_fold_scores(X, y, folds, model.alphas_)
    np.testing.assert_allclose(model.scores_, expected, rtol=1e-6)
    assert model.alpha_ == model.alphas_[np.argmin(expected.mean(axis=1))]
    # the chosen model is the all-rows fit at alpha_
    cold = dasklr.LogisticRegression(alpha=model.alpha_, tol=1e-10, client=client).fit(X, y)
    np.testing.assert_allclose(model.coef_, cold.coef_, atol=1e-8)
    np.testing.assert_allclose(model.intercept_, cold.intercept_, atol=1e-8)


def test_cv_picks_the_alpha_sklearn_logisticregressioncv_picks(client):
    """Same folds, the same grid (C = 1/(alpha·n_train), n_train the mean fold's): the same
    choice. The data has many noise features, so the best alpha is inside the grid."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 30))
    y = (X[:, :3] @ [1.0, -1.0, 0.5] + rng.logistic(size=600) > 0).astype(float)
    alphas = np.logspace(0, -4, 9)
    model = dasklr.LogisticRegressionCV(alphas=alphas, cv=5, tol=1e-10, client=client).fit(X, y)
    folds = fold_ids(len(y), 5)
    n_train = np.mean([np.sum(folds != f) for f in range(5)])
    reference = SkLogisticRegressionCV(
        Cs=1.0 / (model.alphas_ * n_train),
        cv=PredefinedSplit(folds),
        scoring="neg_log_loss",
        l1_ratios=(0.0,),
        solver="newton-cholesky",
        tol=1e-12,
        max_iter=200,
        use_legacy_attributes=False,
    ).fit(X, y)
    chosen = np.argmin(np.abs(1.0 / (model.alphas_ * n_train) - reference.C_))
    assert 0 < chosen < len(alphas) - 1  # an interior optimum: the test can fail
    assert model.alpha_ == model.alphas_[chosen]


def test_cv_by_auc_matches_sklearn_auc(client, data):
    X, y = data
    model = dasklr.LogisticRegressionCV(
        alphas=[1e-1, 1e-3], cv=3, scoring="roc_auc", tol=1e-10, client=client
    ).fit(X, y)
    folds = fold_ids(len(y), 3)
    for k, alpha in enumerate(model.alphas_):
        for f in range(3):
            train, test = folds != f, folds == f
            reference = SkLogisticRegression(
                C=1.0 / (alpha * train.sum()), solver="newton-cholesky", tol=1e-12
            ).fit(X[train], y[train])
            auc = roc_auc_score(y[test], reference.decision_function(X[test]))
            # histogram AUC: within its bin width (error bound < 1e-3 here)
            assert abs(model.scores_[k, f] - auc) < 1e-3


def test_cv_costs_about_one_fit_in_passes(client, data):
    X, y = data
    cold = dasklr.LogisticRegression(alpha=1e-4, client=client).fit(X, y)
    model = dasklr.LogisticRegressionCV(alphas=np.logspace(0, -6, 12), cv=5, client=client)
    model.fit(X, y)
    # 12 alphas × (5 folds + all rows) = 72 models; one more pass scores the folds
    assert model.n_passes_ <= cold.n_passes_ + 3
    assert model.path_.coef.shape == (12, 1, 6)


def test_cv_model_saves_and_loads_with_its_selection(client, data, tmp_path):
    X, y = data
    model = dasklr.LogisticRegressionCV(alphas=ALPHAS, cv=3, client=client).fit(X, y)
    model.save(tmp_path / "model")
    loaded = dasklr.load_model(tmp_path / "model")
    assert loaded.alpha == model.alpha_
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    assert loaded.selection_["alpha"] == model.alpha_
    np.testing.assert_array_equal(loaded.selection_["scores"], model.scores_)
    np.testing.assert_array_equal(loaded.selection_["path"]["coef"], model.path_.coef)


def test_cv_on_parquet_with_weights(client, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    X, y, _, _ = make_classification(3000, 3, seed=8)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y, "w": w})
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=500)
    data = dasklr.read_parquet(tmp_path / "d.parquet", label="y", weight="w")
    model = dasklr.LogisticRegressionCV(alphas=[1e-1, 1e-3], cv=3, tol=1e-10, client=client)
    model.fit(data)
    folds = fold_ids(len(y), 3)
    for f in range(3):
        train, test = folds != f, folds == f
        for k, alpha in enumerate(model.alphas_):
            reference = SkLogisticRegression(
                C=1.0 / (alpha * w[train].sum()), solver="newton-cholesky", tol=1e-12
            ).fit(X[train], y[train], sample_weight=w[train])
            expected = log_loss(y[test], reference.predict_proba(X[test]), sample_weight=w[test])
            assert model.scores_[k, f] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"cv": 1}, "cv must be an integer >= 2"),
        ({"alphas": []}, "non-empty"),
        ({"alphas": [1.0, -1.0]}, ">= 0"),
        ({"alphas": [1.0, 1.0]}, "distinct"),
        ({"scoring": "f1"}, "scoring must be one of"),
    ],
)
def test_bad_grid_parameters_are_refused(client, data, params, message):
    X, y = data
    with pytest.raises(ConfigError, match=message):
        dasklr.LogisticRegressionCV(client=client, **params).fit(X, y)


def test_selection_on_a_validation_dataset_matches_sklearn(client, data, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    X, y = data
    train, test = slice(0, 3000), slice(3000, None)
    model = dasklr.LogisticRegressionCV(alphas=ALPHAS, tol=1e-10, client=client)
    model.fit(X[train], y[train], validation=(X[test], y[test]))
    expected = []
    for alpha in model.alphas_:
        reference = SkLogisticRegression(
            C=1.0 / (alpha * 3000), solver="newton-cholesky", tol=1e-12, max_iter=200
        ).fit(X[train], y[train])
        expected.append(log_loss(y[test], reference.predict_proba(X[test])))
    np.testing.assert_allclose(model.scores_[:, 0], expected, rtol=1e-6)
    assert model.alpha_ == model.alphas_[np.argmin(expected)]
    assert model.selection_["cv"] == "validation data"
    # the same from Parquet files, labels as strings
    for name, part in (("train", train), ("valid", test)):
        labels = np.where(y[part] == 1, "yes", "no")
        columns = {f"f{j}": X[part, j] for j in range(X.shape[1])}
        pq.write_table(pa.table({**columns, "label": labels}), tmp_path / f"{name}.parquet")
    read = dasklr.read_parquet
    again = dasklr.LogisticRegressionCV(alphas=ALPHAS, tol=1e-10, client=client).fit(
        read(tmp_path / "train.parquet", label="label"),
        validation=read(tmp_path / "valid.parquet", label="label"),
    )
    np.testing.assert_allclose(again.scores_, model.scores_, rtol=1e-9)


def test_multinomial_cv_scores_match_sklearn(client):
    """Three classes (iris, bundled with scikit-learn): softmax held-out log-loss per fold."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    model = dasklr.LogisticRegressionCV(alphas=[1e-1, 1e-2, 1e-3], cv=3, tol=1e-10, client=client)
    model.fit(X, y)
    folds = fold_ids(len(y), 3)
    for k, alpha in enumerate(model.alphas_):
        for f in range(3):
            train, test = folds != f, folds == f
            reference = SkLogisticRegression(
                C=1.0 / (alpha * train.sum()), solver="newton-cholesky", tol=1e-12, max_iter=500
            ).fit(X[train], y[train])
            expected = log_loss(y[test], reference.predict_proba(X[test]), labels=[0, 1, 2])
            assert model.scores_[k, f] == pytest.approx(expected, rel=1e-6)
    assert model.coef_.shape == (3, 4)
