"""A good citizen of scikit-learn: its estimator checks, its meta-estimators and helpers,
pickling (and joblib), and the errors its tools expect.

scikit-learn stays optional for dasklr; these tests use it as the reference. The
estimators run on the session cluster, made the current client for each test (scikit-learn
deep-copies parameters, and a ``distributed.Client`` cannot be copied).
"""

import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone, is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import NotFittedError as ScikitNotFitted
from sklearn.linear_model import LogisticRegression as ScikitLogisticRegression
from sklearn.metrics import RocCurveDisplay
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator
from sklearn.utils.validation import check_is_fitted

import dasklr
from dasklr.data.synthetic import make_classification, write_parquet_dataset

#: the checks scikit-learn itself skips here, and why (none is expected to fail)
SKIPPED_BY_SCIKIT_LEARN = {
    "check_array_api_input": "SCIPY_ARRAY_API is not set: scikit-learn runs it only then",
}


@pytest.fixture
def current(client):
    """The session cluster as the current client, so ``client=None`` estimators use it."""
    with client.as_current():
        yield client


@pytest.fixture(scope="module")
def data():
    X, y, _, _ = make_classification(600, 4, seed=21)
    return X, y.astype(int)


# scikit-learn warns that the estimator does not inherit its BaseEstimator: on purpose,
# as dasklr does not depend on scikit-learn (it implements the protocol instead)
@pytest.mark.filterwarnings("ignore:Estimator LogisticRegression does not inherit")
def test_check_estimator_passes_every_check(current):
    """alpha > 0: some checks fit separable data (15 rows, 30 features), where the
    unpenalised default has no optimum; tol 1e-10: the weighted and repeated fits of
    ``check_sample_weight_equivalence`` are compared to 1e-7."""
    results = check_estimator(
        dasklr.LogisticRegression(alpha=1e-2, tol=1e-10), on_fail=None, on_skip=None
    )
    not_passed = {r["check_name"]: r for r in results if r["status"] != "passed"}
    failed = {
        name: str(r["exception"]) for name, r in not_passed.items() if r["status"] != "skipped"
    }
    assert failed == {}
    assert sorted(not_passed) == sorted(SKIPPED_BY_SCIKIT_LEARN)
    assert len(results) > 50


@pytest.mark.filterwarnings("ignore:Estimator LogisticRegressionCV does not inherit")
def test_check_estimator_passes_for_the_cross_validated_estimator(current):
    """One check is expected to fail, for the reason given to scikit-learn."""
    expected = {
        "check_sample_weight_equivalence_on_dense_data": (
            "it passes cv as lists of row indices; dasklr's folds come from a hash of the "
            "row index, so that workers find them without moving rows, and cv is a count"
        )
    }
    results = check_estimator(
        dasklr.LogisticRegressionCV(alphas=[1e-1, 1e-2], cv=3, tol=1e-10),
        on_fail=None,
        on_skip=None,
        expected_failed_checks=expected,
    )
    status = {r["check_name"]: r["status"] for r in results}
    assert {name for name, s in status.items() if s == "failed"} == set()
    assert {name for name, s in status.items() if s == "xfail"} == set(expected)
    assert {name for name, s in status.items() if s == "skipped"} == set(SKIPPED_BY_SCIKIT_LEARN)


def test_the_cross_validated_estimator_in_a_pipeline_and_calibration(current, data):
    """In a pipeline, LogisticRegressionCV gives the model of its chosen alpha, which a
    plain LogisticRegression with that alpha reproduces."""
    X, y = data
    pipeline = make_pipeline(
        StandardScaler(), dasklr.LogisticRegressionCV(alphas=[1e-1, 1e-2, 1e-3], cv=3, tol=1e-10)
    ).fit(X, y)
    chosen = pipeline[-1].alpha_
    plain = make_pipeline(StandardScaler(), dasklr.LogisticRegression(alpha=chosen, tol=1e-10))
    np.testing.assert_allclose(
        pipeline.predict_proba(X), plain.fit(X, y).predict_proba(X), rtol=0, atol=1e-8
    )
    scores = cross_val_score(pipeline, X, y, cv=3, scoring="neg_log_loss")
    assert np.isfinite(scores).all()
    calibrated = CalibratedClassifierCV(pipeline, cv=3).fit(X, y)
    np.testing.assert_allclose(calibrated.predict_proba(X).sum(axis=1), 1.0)


def test_is_a_classifier_and_knows_when_it_is_fitted(current, data):
    X, y = data
    model = dasklr.LogisticRegression()
    assert is_classifier(model)
    with pytest.raises(ScikitNotFitted):
        check_is_fitted(model)
    with pytest.raises(dasklr.NotFittedError, match="not fitted yet") as caught:
        model.predict_proba(X)
    assert isinstance(caught.value, ScikitNotFitted)
    model.fit(X, y)
    check_is_fitted(model)


def test_grid_search_over_a_pipeline_matches_scikit_learn(current, data):
    """The same grid over StandardScaler → classifier, with dasklr's alpha mapped to
    scikit-learn's C = 1/(alpha·n) for each fold's n: the same scores and choice."""
    X, y = data
    alphas = [1e-3, 1e-2, 1e-1]
    folds = KFold(3, shuffle=True, random_state=0)
    n_train = len(y) * 2 // 3  # 400 rows in each training fold
    ours = GridSearchCV(
        make_pipeline(StandardScaler(), dasklr.LogisticRegression(tol=1e-10)),
        {"logisticregression__alpha": alphas},
        cv=folds,
        scoring="neg_log_loss",
    ).fit(X, y)
    theirs = GridSearchCV(
        make_pipeline(StandardScaler(), ScikitLogisticRegression(tol=1e-12, max_iter=10_000)),
        {"logisticregression__C": [1 / (a * n_train) for a in alphas]},
        cv=folds,
        scoring="neg_log_loss",
    ).fit(X, y)
    assert np.isfinite(ours.best_score_)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"], rtol=1e-6
    )
    assert ours.best_index_ == theirs.best_index_
    scores = cross_val_score(dasklr.LogisticRegression(alpha=1e-2), X, y, cv=folds)
    reference = cross_val_score(ScikitLogisticRegression(C=1 / (1e-2 * n_train)), X, y, cv=folds)
    np.testing.assert_allclose(scores, reference, atol=1e-12)  # accuracies: the same rows


def test_calibration_and_the_roc_display_take_it(current, data):
    X, y = data
    calibrated = CalibratedClassifierCV(dasklr.LogisticRegression(alpha=1e-2), cv=3).fit(X, y)
    proba = calibrated.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    model = dasklr.LogisticRegression(alpha=1e-2).fit(X, y)
    display = RocCurveDisplay.from_estimator(model, X, y, plot_chance_level=False)
    reference = ScikitLogisticRegression(C=1 / (1e-2 * len(y)), tol=1e-12).fit(X, y)
    expected = RocCurveDisplay.from_estimator(reference, X, y, plot_chance_level=False)
    assert display.roc_auc == pytest.approx(expected.roc_auc, abs=1e-9)


def test_predict_log_proba_is_the_log_of_predict_proba_and_finite(current, data):
    X, y = data
    model = dasklr.LogisticRegression(alpha=1e-3).fit(X, y)
    np.testing.assert_allclose(
        model.predict_log_proba(X), np.log(model.predict_proba(X)), rtol=1e-12, atol=1e-300
    )
    far = X[:2] * 1e4  # probabilities that round to 0 and 1
    assert np.isfinite(model.predict_log_proba(far)).all()


def test_bad_input_to_predict_is_named(current, data):
    X, y = data
    model = dasklr.LogisticRegression().fit(X, y)
    bad = X[:10].copy()
    bad[7, 2] = np.nan
    with pytest.raises(dasklr.DataError, match=r"'column 2' holds NaN in row 7 of the rows"):
        model.predict(bad)
    with pytest.raises(TypeError, match="sparse input is not supported"):
        model.predict(scipy.sparse.csr_matrix(X))
    with pytest.raises(ValueError, match="X has 3 features, but LogisticRegression is expecting 4"):
        model.predict(X[:, :3])


def test_pickles_round_trip_without_training_data_or_a_client(client, data, tmp_path):
    """100k × 6 rows fitted with an explicit client: the pickle (and joblib's) holds the
    parameters and fitted attributes only, and predicts as the original."""
    X, y, _, _ = make_classification(100_000, 6, seed=22)
    model = dasklr.LogisticRegression(alpha=1e-3, client=client).fit(X, y)
    blob = pickle.dumps(model)
    assert len(blob) < 20_000  # X alone is 4.8 MB
    again = pickle.loads(blob)
    assert again.client is None and model.client is client
    np.testing.assert_array_equal(again.predict_proba(X[:100]), model.predict_proba(X[:100]))
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    assert clone(again).get_params() == again.get_params()


def test_read_parquet_data_and_its_model_round_trip_through_pickle(client, tmp_path):
    X, y, _, _ = make_classification(3000, 3, seed=23)
    write_parquet_dataset(tmp_path, X, y, n_files=2)
    data = dasklr.read_parquet(tmp_path, label="y")
    again = pickle.loads(pickle.dumps(data))
    assert again.feature_names == data.feature_names and again.label == "y"
    np.testing.assert_array_equal(again.classes, data.classes)
    np.testing.assert_array_equal(client.compute(again.X).result(), X)
    model = dasklr.LogisticRegression(alpha=1e-3, client=client).fit(again)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.coef_, model.coef_)
    assert restored.feature_names_in_.tolist() == ["x0", "x1", "x2"]
