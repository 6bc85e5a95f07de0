"""Formulas (issue 16, item 2): ``read_parquet(path, formula="y ~ x1 * x2 +
C(region)")`` defines the model's columns; interactions are computed per chunk, and the
model keeps the formula so predictions rebuild the columns from raw Parquet. Against
statsmodels' formula API on the same formula: coefficients and standard errors within
1e-6 relative, predictions within 1e-6."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.formula.api as smf
from scipy.special import expit

import dasklr
from dasklr.cli.main import main
from dasklr.data.formula import parse_formula
from dasklr.estimators.scoring import predict_to_parquet

FORMULA = "y ~ x1 * x2 + income + C(region, Treatment('b'))"


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(23)
    n = 3000
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "income": rng.normal(2.0, 1.0, size=n),
            "region": rng.choice(list("abcd"), size=n),
        }
    )
    z = 0.3 + frame.x1 - 0.5 * frame.x2 + 0.4 * frame.x1 * frame.x2 - 0.2 * frame.income
    z += frame.region.map({"a": 0.0, "b": 0.5, "c": -0.5, "d": 1.0})
    frame["y"] = (rng.random(n) < expit(z)).astype(int)
    return frame


@pytest.fixture(scope="module")
def folder(tmp_path_factory, frame):
    root = tmp_path_factory.mktemp("formula")
    for k, start in enumerate(range(0, len(frame), 1000)):
        part = pa.Table.from_pandas(frame.iloc[start : start + 1000], preserve_index=False)
        pq.write_table(part, root / f"part-{k}.parquet", row_group_size=300)
    return root


def _renamed(series: pd.Series) -> pd.Series:
    """statsmodels' names as dasklr writes them."""

    def one(name: str) -> str:
        if name == "Intercept":
            return "intercept"
        if name.startswith("C(region"):
            return "region[" + name.split("[T.")[1].rstrip("]") + "]"
        return name

    return series.rename(index=one)


def test_the_formula_is_expanded_by_formulaic():
    parsed = parse_formula("y ~ (a + b)**2 + C(r, Treatment(reference='x')) - 1")
    assert parsed.label == "y"
    assert parsed.term_names == ("a", "b", "a:b")
    assert parsed.categorical == (("r", "x"),)
    assert not parsed.intercept
    assert parsed.references() == {"r": None}  # no intercept: every level of r


@pytest.mark.parametrize(
    "formula, message",
    [
        ("y ~ np.log(x1)", "np.log"),
        ("y ~ C(region):x1", "not supported"),
        ("y + x2 ~ x1", "one label column"),
        ("y ~ x1 +", "cannot be parsed"),
    ],
)
def test_unsupported_formulas_are_refused_naming_the_term(formula, message):
    with pytest.raises(dasklr.ConfigError, match=message):
        parse_formula(formula)


def test_a_formula_fit_matches_statsmodels(folder, frame, client):
    data = dasklr.read_parquet(folder, formula=FORMULA)
    assert data.label == "y"
    model = dasklr.LogisticRegression(alpha=0, solver="newton", tol=1e-10, client=client)
    model.fit(data)
    reference = smf.logit(FORMULA, frame).fit(method="newton", tol=1e-12, disp=False)
    params, errors = _renamed(reference.params), _renamed(reference.bse)
    summary = model.summary()
    names = list(summary.names)
    assert sorted(names) == sorted(params.index)
    np.testing.assert_allclose(summary.params, params[names].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(summary.std_errors, errors[names].to_numpy(), rtol=1e-6)
    assert model.formula_ == FORMULA


def test_predictions_rebuild_the_columns_from_raw_parquet(tmp_path, folder, frame, client):
    model = dasklr.LogisticRegression(alpha=0, tol=1e-10, client=client)
    model.fit(dasklr.read_parquet(folder, formula=FORMULA))
    model.save(tmp_path / "model")
    loaded = dasklr.load_model(tmp_path / "model")
    assert loaded.formula_ == FORMULA and loaded.levels_ == model.levels_
    reference = smf.logit(FORMULA, frame).fit(method="newton", tol=1e-12, disp=False)
    expected = reference.predict(frame).to_numpy()
    out = tmp_path / "scores"
    predict_to_parquet(loaded, folder, out, keep=["region"], client=client)
    np.testing.assert_allclose(pq.read_table(out)["proba_1"].to_numpy(), expected, atol=1e-6)
    loaded.client = client
    again = loaded.predict_proba(dasklr.read_parquet(folder, formula=FORMULA)).compute()
    np.testing.assert_allclose(again[:, 1], expected, atol=1e-6)
    with pytest.raises(ValueError, match="read the data with formula="):
        loaded.predict_proba(dasklr.read_parquet(folder, "y", features=["x1", "x2"]))


def test_without_an_intercept_every_level_of_the_first_column_stays(folder, frame, client):
    formula = "y ~ 0 + x1 + C(region)"
    data = dasklr.read_parquet(folder, formula=formula)
    assert data.feature_names == ("x1", "region[a]", "region[b]", "region[c]", "region[d]")
    with pytest.raises(dasklr.ConfigError, match="fit_intercept=False"):
        dasklr.LogisticRegression(client=client).fit(data)
    model = dasklr.LogisticRegression(alpha=0, tol=1e-10, fit_intercept=False, client=client)
    model.fit(data)
    reference = smf.logit(formula, frame).fit(method="newton", tol=1e-12, disp=False)
    np.testing.assert_allclose(
        model.coef_[0], reference.params.to_numpy()[[4, 0, 1, 2, 3]], rtol=1e-6
    )


def test_a_formula_from_a_config_file(tmp_path, folder, frame, cluster):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{folder}"\n'
        f'[model]\nformula = "{FORMULA}"\nalpha = 0.0\ntol = 1e-10\nsolver = "newton"\n'
        f'[cluster]\nscheduler = "{cluster.scheduler_address}"\n'
        f'[output]\npath = "{tmp_path / "model"}"\n'
    )
    assert main(["train", "--quiet", str(config)]) == 0
    model = dasklr.load_model(tmp_path / "model")
    assert "x1:x2" in list(model.feature_names_in_)
    args = ["--scheduler", cluster.scheduler_address, "--quiet"]
    out = str(tmp_path / "scores")
    assert main(["predict", str(tmp_path / "model"), str(folder), "--output", out, *args]) == 0
    reference = smf.logit(FORMULA, frame).fit(method="newton", tol=1e-12, disp=False)
    scores = pq.read_table(out).to_pandas()
    np.testing.assert_allclose(scores["proba_1"], reference.predict(frame), atol=1e-6)
    assert main(["evaluate", str(tmp_path / "model"), str(folder), "--json", *args]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(
        f'[data]\npath = "{folder}"\nfeatures = ["x1"]\n[model]\nformula = "{FORMULA}"\n'
        f'[output]\npath = "{tmp_path / "m2"}"\n'
    )
    assert main(["train", "--quiet", str(bad)]) != 0
