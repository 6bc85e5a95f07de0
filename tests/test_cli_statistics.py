"""The statistics from the command line: a penalty grid chosen by CV or validation data,
the stored summary that `dasklr info` prints, and their config checks."""

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.metrics import log_loss

import dasklr
from dasklr.cli.main import main
from dasklr.data.synthetic import make_classification, write_parquet_dataset

ALPHAS = "[0.1, 0.01, 0.001, 0.0001]"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-statistics")
    X, y, _, _ = make_classification(3000, 4, seed=11)
    write_parquet_dataset(root / "train", X[:2000], y[:2000], n_files=2, row_group_rows=400)
    write_parquet_dataset(root / "valid", X[2000:], y[2000:], n_files=1, row_group_rows=400)
    return root, X, y.astype(float)


def _config(path, root, model_dir, scheduler, model="", extra=""):
    path.write_text(
        f'[data]\npath = "{root / "train"}"\nlabel = "y"\nvalidation = "{root / "valid"}"\n\n'
        f"[model]\ntol = 1e-10\n{model}\n\n"
        f'[cluster]\nscheduler = "{scheduler}"\n\n{extra}\n'
        f'[output]\npath = "{model_dir}"\nmetrics = false\n'
    )
    return path


def test_train_with_alphas_cross_validates_and_info_prints_it(folders, tmp_path, cluster, capsys):
    root, _, _ = folders
    config = _config(
        tmp_path / "c.toml", root, tmp_path / "m", cluster.scheduler_address, f"alphas = {ALPHAS}"
    )
    report = tmp_path / "report"
    assert main(["train", str(config), "--quiet", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "chosen from 4 by 5-fold cross-validation" in out
    # the path and the scores are plotted: a real PNG, shown by the page
    assert (report / "path.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "path.png" in (report / "index.html").read_text()
    model = dasklr.load_model(tmp_path / "m")
    reference = dasklr.LogisticRegressionCV(
        alphas=[0.1, 0.01, 0.001, 0.0001], tol=1e-10, client=cluster.scheduler_address
    ).fit(dasklr.read_parquet(root / "train", label="y"))
    assert model.alpha == reference.alpha_
    np.testing.assert_array_equal(model.coef_, reference.coef_)
    assert main(["info", str(tmp_path / "m")]) == 0
    info = capsys.readouterr().out
    assert f"alpha = {reference.alpha_:g} chosen from 4" in info
    assert "std err" in info and "covariance nonrobust" in info


def test_cv_folds_0_selects_on_the_validation_data(folders, tmp_path, cluster, capsys):
    root, X, y = folders
    model_text = f"alphas = {ALPHAS}\ncv_folds = 0"
    config = _config(
        tmp_path / "c.toml", root, tmp_path / "m", cluster.scheduler_address, model_text
    )
    assert main(["train", str(config), "--quiet"]) == 0
    assert "by the validation data" in capsys.readouterr().out
    model = dasklr.load_model(tmp_path / "m")
    train_rows = slice(0, 2000)
    losses = [
        log_loss(
            y[2000:],
            SkLogisticRegression(C=1.0 / (a * 2000), solver="newton-cholesky", tol=1e-12)
            .fit(X[train_rows], y[train_rows])
            .predict_proba(X[2000:]),
        )
        for a in (0.1, 0.01, 0.001, 0.0001)
    ]
    np.testing.assert_allclose(model.selection_["mean_scores"], losses, rtol=1e-6)
    assert model.alpha == [0.1, 0.01, 0.001, 0.0001][int(np.argmin(losses))]


def test_hc0_summary_is_stored_and_matches_statsmodels(folders, tmp_path, cluster, capsys):
    root, X, y = folders
    config = _config(
        tmp_path / "c.toml",
        root,
        tmp_path / "m",
        cluster.scheduler_address,
        extra='[inference]\ncov_type = "HC0"\nlevel = 0.9\n',
    )
    assert main(["train", str(config), "--quiet"]) == 0
    model = dasklr.load_model(tmp_path / "m")
    reference = sm.Logit(y[:2000], sm.add_constant(X[:2000])).fit(
        disp=0, tol=1e-12, maxiter=100, cov_type="HC0"
    )
    summary = model.summary(cov_type="HC0", level=0.9)
    np.testing.assert_allclose(summary.std_errors, reference.bse, rtol=1e-6)
    # the loaded model holds the stored summary as it was taken (HC0, 90%): a report of
    # it (evaluate --report) shows those errors, not nonrobust ones
    assert (model.summary_.cov_type, model.summary_.level) == ("HC0", 0.9)
    np.testing.assert_array_equal(model.summary_.std_errors, summary.std_errors)
    np.testing.assert_allclose(summary.conf_int, reference.conf_int(alpha=0.1), rtol=1e-6)
    assert main(["info", str(tmp_path / "m")]) == 0
    assert "covariance HC0" in capsys.readouterr().out


@pytest.mark.parametrize(
    "model, extra, message",
    [
        ("alphas = [0.1, 0.1]", "", "model.alphas' must be distinct"),
        ("alphas = [0.1]\ncv_folds = 1", "", "model.cv_folds' must be 0 or at least 2"),
        (
            "alphas = [0.1]\ninit_model = 'x'",
            "",
            r"model.alphas does not go with a warm start \(model.init_model\)",
        ),
        ("", '[inference]\ncov_type = "cluster"\n', "inference.groups goes with"),
        ("", '[inference]\ncov_type = "HC1"\n', "inference.cov_type' must be one of"),
    ],
)
def test_bad_statistics_keys_are_one_line_errors(folders, tmp_path, capsys, model, extra, message):
    root, _, _ = folders
    config = _config(tmp_path / "c.toml", root, tmp_path / "m", "tcp://127.0.0.1:9", model, extra)
    assert main(["config", "check", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    import re

    assert re.search(message, err), err
