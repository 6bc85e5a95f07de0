"""Categorical columns (issue 16, item 1) end to end: ``read_parquet(categorical=...)``
codes levels per chunk, the kernels build the one-hot design from the codes, and the fit
equals scikit-learn's on the same data one-hot encoded by ``OneHotEncoder`` (objective
within 1e-8) and statsmodels' formula ``C(col)`` (coefficients and standard errors within
1e-6 relative); through predict, save/load, predict_to_parquet and a config file."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.formula.api as smf
from scipy.special import expit
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import OneHotEncoder

import dasklr
from dasklr.cli.main import main
from dasklr.estimators.scoring import predict_to_parquet

EFFECTS = {"north": 0.4, "south": -0.6, "east": 1.0, "west": 0.0, "rare": 1.5}


def _frame(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(list(EFFECTS), p=[0.3, 0.3, 0.2, 0.18, 0.02], size=n)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "income": rng.normal(1.0, 2.0, size=n),
            "region": region,
            "member": rng.random(n) < 0.4,
            "store": rng.integers(0, 6, size=n),
        }
    )
    z = 0.2 + frame["x"] - 0.3 * frame["income"] + frame["region"].map(EFFECTS)
    z += 0.5 * frame["member"] + 0.1 * frame["store"]
    frame["y"] = rng.random(n) < expit(z)
    return frame


@pytest.fixture(scope="module")
def frame():
    return _frame(5, 3000)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, frame):
    """Three files; 'region' dictionary-encoded in one of them, row groups of 400 rows."""
    root = tmp_path_factory.mktemp("categorical")
    for k, start in enumerate(range(0, len(frame), 1000)):
        table = pa.Table.from_pandas(frame.iloc[start : start + 1000], preserve_index=False)
        if k == 1:
            index = table.schema.get_field_index("region")
            table = table.set_column(index, "region", pc_dictionary(table.column("region")))
        pq.write_table(table, root / f"part-{k}.parquet", row_group_size=400)
    return root


def pc_dictionary(column):
    import pyarrow.compute as pc

    return pc.dictionary_encode(column)


def _one_hot(frame: pd.DataFrame, columns, drop="first") -> tuple[np.ndarray, OneHotEncoder]:
    encoder = OneHotEncoder(drop=drop, sparse_output=False)
    coded = encoder.fit_transform(frame[columns].astype(str))
    return np.column_stack([frame[["x", "income"]].to_numpy(), coded]), encoder


def _mean_loss(A: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float) -> float:
    z = A @ coef + intercept
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_unpenalised_fit_matches_scikit_learn_one_hot(folder, frame, client, solver):
    columns = ["region", "member", "store"]
    data = dasklr.read_parquet(folder, "y", features=["x", "income"], categorical=columns)
    model = dasklr.LogisticRegression(alpha=0, solver=solver, tol=1e-10, max_iter=500)
    model.client = client
    model.fit(data)
    A, encoder = _one_hot(frame, columns)
    y = frame["y"].to_numpy(dtype=float)
    reference = SkLogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(A, y)
    ours = _mean_loss(A, y, model.coef_[0], model.intercept_[0])
    theirs = _mean_loss(A, y, reference.coef_[0], reference.intercept_[0])
    assert ours == pytest.approx(theirs, abs=1e-8)
    np.testing.assert_allclose(model.coef_[0], reference.coef_[0], atol=1e-5)
    # the names: numeric features, then column[level] in scikit-learn's order of levels
    # (bools read as Arrow's text: true, false)
    names = [n.replace("_", "[", 1) + "]" for n in encoder.get_feature_names_out(columns)]
    assert list(model.feature_names_in_) == ["x", "income", *(n.lower() for n in names)]
    assert [lv.reference for lv in model.levels_] == ["east", "false", "0"]


def test_penalised_fit_with_every_level_matches_scikit_learn(folder, frame, client):
    """reference=None: every level has a coefficient; an L2 penalty identifies the fit."""
    columns = ["region", "member"]
    data = dasklr.read_parquet(
        folder, "y", features=["x", "income"], categorical=columns, reference=None
    )
    alpha = 0.01
    model = dasklr.LogisticRegression(alpha=alpha, solver="newton", tol=1e-10, client=client)
    model.fit(data)
    A, _ = _one_hot(frame, columns, drop=None)
    y = frame["y"].to_numpy(dtype=float)
    reference = SkLogisticRegression(C=1 / (alpha * len(y)), tol=1e-12, max_iter=10_000)
    reference.fit(A, y)
    assert model.coef_.shape == (1, 2 + 5 + 2)
    np.testing.assert_allclose(model.coef_[0], reference.coef_[0], atol=1e-6)
    assert model.intercept_[0] == pytest.approx(reference.intercept_[0], abs=1e-6)


def test_coefficients_and_standard_errors_match_statsmodels_formula(folder, frame, client):
    data = dasklr.read_parquet(
        folder, "y", features=["x", "income"], categorical=["region"], reference={"region": "west"}
    )
    model = dasklr.LogisticRegression(alpha=0, solver="newton", tol=1e-10, client=client)
    model.fit(data)
    table = frame.assign(y=frame["y"].astype(int))
    formula = "y ~ x + income + C(region, Treatment(reference='west'))"
    reference = smf.logit(formula, table).fit(method="newton", tol=1e-12, disp=False)
    rename = {
        name: "region[" + name.split("[T.")[1].rstrip("]") + "]"
        for name in reference.params.index
        if name.startswith("C(region")
    }
    params = reference.params.rename(index={**rename, "Intercept": "intercept"})
    errors = reference.bse.rename(index={**rename, "Intercept": "intercept"})
    summary = model.summary()
    names = list(summary.names)
    assert "region[west]" not in names and sorted(names) == sorted(params.index)
    np.testing.assert_allclose(summary.params, params[names].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(summary.std_errors, errors[names].to_numpy(), rtol=1e-6)
    assert summary.llf == pytest.approx(reference.llf, rel=1e-9)


def test_cluster_and_hc0_covariance_agree_with_the_dense_one_hot_fit(folder, frame, client):
    """The training reader orders each chunk's rows by level; the cluster codes of
    ``summary(groups="store")`` must follow the same order."""
    data = dasklr.read_parquet(folder, "y", features=["x", "income"], categorical=["region"])
    model = dasklr.LogisticRegression(alpha=0, solver="newton", tol=1e-10, client=client)
    model.fit(data)
    A, _ = _one_hot(frame, ["region"])
    dense = dasklr.LogisticRegression(alpha=0, solver="newton", tol=1e-10, client=client)
    dense.fit(A, frame["y"].to_numpy())
    np.testing.assert_allclose(model.coef_, dense.coef_, rtol=1e-8, atol=1e-10)
    for cov_type, groups, dense_groups in [
        ("HC0", None, None),
        ("cluster", "store", frame["store"].to_numpy()),
    ]:
        ours = model.summary(cov_type=cov_type, groups=groups)
        theirs = dense.summary(cov_type=cov_type, groups=dense_groups)
        np.testing.assert_allclose(ours.std_errors, theirs.std_errors, rtol=1e-8)


def test_rare_levels_fold_into_other_and_predictions_follow(tmp_path, folder, frame, client):
    data = dasklr.read_parquet(
        folder, "y", features=["x"], categorical=["region"], min_frequency=100
    )
    [region] = data.levels
    assert region.folded == ("rare",)
    model = dasklr.LogisticRegression(alpha=0, tol=1e-10, client=client).fit(data)
    assert list(model.feature_names_in_)[-1] == "region[other]"
    encoder = OneHotEncoder(drop="first", min_frequency=100, sparse_output=False)
    A = np.column_stack([frame[["x"]], encoder.fit_transform(frame[["region"]])])
    y = frame["y"].to_numpy(dtype=float)
    reference = SkLogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(A, y)
    np.testing.assert_allclose(model.coef_[0], reference.coef_[0], atol=1e-5)
    np.testing.assert_allclose(
        model.predict_proba(data).compute()[:, 1], reference.predict_proba(A)[:, 1], atol=1e-6
    )


def test_unseen_level_is_an_error_naming_it_or_goes_to_other(tmp_path, folder, client):
    model = dasklr.LogisticRegression(alpha=0, tol=1e-10, client=client)
    model.fit(dasklr.read_parquet(folder, "y", features=["x"], categorical=["region"]))
    new = tmp_path / "new"
    new.mkdir()
    table = pa.table({"x": [0.5, 0.5], "region": ["mars", "east"], "y": [True, False]})
    pq.write_table(table, new / "new.parquet")
    strict = dasklr.read_parquet(new, "y", features=["x"], categorical=["region"])
    with pytest.raises(dasklr.DataError, match=r"'mars'.*new\.parquet"):
        model.predict_proba(strict).compute()
    lenient = dasklr.read_parquet(
        new, "y", features=["x"], categorical=["region"], on_unseen="other"
    )
    proba = model.predict_proba(lenient).compute()
    # nothing was folded: an unseen level scores as the reference level ('east')
    np.testing.assert_allclose(proba[0], proba[1], rtol=1e-12)


def test_save_load_and_predict_to_parquet_keep_the_levels(tmp_path, folder, frame, client):
    data = dasklr.read_parquet(folder, "y", features=["x"], categorical=["region", "member"])
    model = dasklr.LogisticRegression(alpha=0, tol=1e-10, client=client).fit(data)
    model.save(tmp_path / "model")
    loaded = dasklr.load_model(tmp_path / "model")
    assert loaded.levels_ == model.levels_
    expected = model.predict_proba(data).compute()
    loaded.client = client
    np.testing.assert_allclose(loaded.predict_proba(data).compute(), expected, rtol=1e-12)
    out = tmp_path / "scores"
    predict_to_parquet(loaded, folder, out, keep=["region"], client=client)
    scores = pq.read_table(out).to_pandas()
    A, _ = _one_hot(frame, ["region", "member"])
    A = np.delete(A, 1, axis=1)  # no income
    z = A @ model.coef_[0] + model.intercept_[0]
    np.testing.assert_allclose(scores["proba_True"], expit(z), rtol=1e-10)
    assert scores["region"].tolist() == frame["region"].tolist()


def test_warm_start_needs_the_same_levels(folder, client):
    model = dasklr.LogisticRegression(alpha=0, tol=1e-10, warm_start=True, client=client)
    model.fit(dasklr.read_parquet(folder, "y", features=["x"], categorical=["region"]))
    first = model.coef_.copy()
    model.fit(dasklr.read_parquet(folder, "y", features=["x"], categorical=["region"]))
    np.testing.assert_allclose(model.coef_, first, atol=1e-7)
    folded = dasklr.read_parquet(
        folder, "y", features=["x"], categorical=["region"], min_frequency=100
    )
    with pytest.raises(dasklr.DataError, match="region"):
        model.fit(folded)


def test_bad_categorical_columns_get_clear_errors(folder):
    with pytest.raises(dasklr.DataError, match=r"categorical column 'regoin' is missing.*region"):
        dasklr.read_parquet(folder, "y", categorical=["regoin"])
    with pytest.raises(dasklr.DataError, match="'x' has type double"):
        dasklr.read_parquet(folder, "y", categorical=["x"])
    with pytest.raises(dasklr.DataError, match="reference level 'mars'"):
        dasklr.read_parquet(folder, "y", categorical=["region"], reference={"region": "mars"})
    with pytest.raises(dasklr.DataError, match=r"expected numeric.*categorical"):
        dasklr.read_parquet(folder, "y", features=["x", "region"])


def test_auto_takes_the_string_columns(folder):
    data = dasklr.read_parquet(folder, "y", categorical="auto")
    assert [lv.column for lv in data.levels] == ["region"]
    assert data.feature_names[: data.n_numeric] == ("x", "income", "member", "store")


def test_categorical_from_a_config_file(tmp_path, folder, frame, cluster):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{folder}"\nlabel = "y"\nfeatures = ["x", "income"]\n'
        'categorical = ["region"]\nreference = { region = "west" }\n'
        '[model]\nalpha = 0.0\ntol = 1e-10\nsolver = "newton"\n'
        f'[cluster]\nscheduler = "{cluster.scheduler_address}"\n'
        f'[output]\npath = "{tmp_path / "model"}"\n'
    )
    assert main(["train", "--quiet", str(config)]) == 0
    model = dasklr.load_model(tmp_path / "model")
    assert list(model.feature_names_in_)[2:] == [
        "region[east]",
        "region[north]",
        "region[rare]",
        "region[south]",
    ]
    args = ["--scheduler", cluster.scheduler_address, "--quiet"]
    assert main(["evaluate", str(tmp_path / "model"), str(folder), "--json", *args]) == 0


def test_a_model_file_whose_levels_do_not_name_its_coefficients_is_refused(
    tmp_path, folder, client
):
    import json

    from dasklr.artifacts import metadata_checksum

    model = dasklr.LogisticRegression(alpha=0, client=client)
    model.fit(dasklr.read_parquet(folder, "y", features=["x"], categorical=["region"]))
    model.save(tmp_path / "model")
    path = tmp_path / "model" / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["levels"][0]["values"] = ["east", "north", "south", "west", "venus"]
    metadata["checksum"] = metadata_checksum(metadata)
    path.write_text(json.dumps(metadata))
    with pytest.raises(dasklr.ModelFormatError, match="levels do not name"):
        dasklr.load_model(tmp_path / "model")


def test_a_stopped_categorical_fit_resumes_from_its_checkpoint_to_the_same_result(
    tmp_path, folder, client
):
    from dasklr.fit.checkpoint import CheckpointPlan, read_checkpoint

    def read():
        return dasklr.read_parquet(folder, "y", features=["x"], categorical=["region"])

    def model():
        return dasklr.LogisticRegression(
            alpha=1e-3, tol=1e-10, solver="lbfgs", cache="none", client=client
        )

    reference = model().fit(read())
    plan = CheckpointPlan(path=tmp_path / "ckpt", every=1, identity={})
    model().fit(read(), callbacks=[lambda record: record.iteration == 3], checkpoint=plan)
    checkpoint = read_checkpoint(tmp_path / "ckpt")
    assert checkpoint.state.iteration == 3
    resumed = model().fit(read(), resume=checkpoint)
    assert list(resumed.feature_names_in_) == list(reference.feature_names_in_)
    np.testing.assert_allclose(resumed.coef_, reference.coef_, rtol=1e-12, atol=1e-14)
    assert resumed.n_iter_ == reference.n_iter_
