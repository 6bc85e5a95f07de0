"""The report (``dasklr.cli.report``): real fitted models and their metrics from
``evaluate_model`` on Parquet, checked against the models' own attributes, the metrics
dict and the data; the pure helpers behind the plots' labels and annotations."""

from html.parser import HTMLParser

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dasklr
from dasklr.cli.report import (
    calibration_points,
    chosen_alpha_label,
    chosen_index,
    coefficient_names,
    count_text,
    dataset_heading,
    path_legend,
    selection_title,
    write_report,
)
from dasklr.estimators.scoring import evaluate_model

PNG = b"\x89PNG\r\n\x1a\n"
ALPHAS = [0.1, 0.01, 0.001, 0.0001]
#: 14 features, more than the path's legend names; one needs escaping in the page
FEATURES = [f"f{j}" for j in range(13)] + ["<b>&income"]
CLASSES = ["a<", "b", "c"]


class _Tables(HTMLParser):
    """Every table of a page as rows of cell texts (unescaped), the header row first."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(page: str) -> dict[str, list[list[str]]]:
    """The page's tables by the first header cell (metric, class, term)."""
    parser = _Tables()
    parser.feed(page)
    return {table[0][0]: table for table in parser.tables}


def shown(value) -> str:
    return "–" if value is None else f"{value:.6g}"


def _write(folder, X, y, names):
    folder.mkdir()
    columns = {name: X[:, j] for j, name in enumerate(names)} | {"y": y}
    pq.write_table(pa.table(columns), folder / "part-0.parquet")
    return dasklr.read_parquet(folder, label="y")


@pytest.fixture(scope="module")
def binary(tmp_path_factory, client):
    """A 3-fold grid on named Parquet features, its metrics, and the labels."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(800, len(FEATURES)))
    y = (X @ rng.normal(size=len(FEATURES)) + rng.logistic(size=800) > 0).astype(np.int64)
    data = _write(tmp_path_factory.mktemp("binary") / "data", X, y, FEATURES)
    model = dasklr.LogisticRegressionCV(alphas=ALPHAS, cv=3, tol=1e-10, client=client).fit(data)
    return model, evaluate_model(model, data, client=client), y


@pytest.fixture(scope="module")
def multinomial(tmp_path_factory, client):
    """A 3-class grid with string labels (in process, on NumPy), scored on Parquet."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(900, 4))
    codes = np.digitize(X[:, 0] - X[:, 1] + rng.logistic(size=900), [-1.0, 1.0])
    y = np.asarray(CLASSES)[codes]
    model = dasklr.LogisticRegressionCV(alphas=ALPHAS[:3], cv=3, tol=1e-10).fit(X, y)
    data = _write(tmp_path_factory.mktemp("multinomial") / "data", X, y, ["x0", "x1", "x2", "x3"])
    return model, evaluate_model(model, data, client=client), y


@pytest.fixture(params=["binary", "multinomial"])
def case(request):
    return request.getfixturevalue(request.param)


def test_the_class_table_has_a_row_per_scored_class_with_its_metrics(case, tmp_path):
    model, metrics, y = case
    page = write_report(tmp_path, model, metrics, "model on data").read_text()
    header, *rows = tables(page)["class"]
    keys = ["auc", "auc_error_bound", "precision", "recall", "f1"]
    assert header == ["class", *keys, "support"]
    scored = model.classes_[1:] if model.classes_.size == 2 else model.classes_
    assert [row[0] for row in rows] == [str(label) for label in scored.tolist()]
    for row, entry in zip(rows, metrics["classes"], strict=True):
        assert row[1:6] == [shown(entry[key]) for key in keys]
        assert [float(cell) for cell in row[1:6]] == pytest.approx(
            [entry[key] for key in keys], rel=1e-5
        )
        # support: the class's rows, counted from the labels themselves (no weights)
        assert row[6] == str(int(np.sum(y == entry["class"])))
    _metric, *overall = tables(page)["metric"]
    expected = [[name, shown(metrics[name])] for name in ("log_loss", "accuracy", "brier")]
    assert overall[:3] == expected
    assert overall[3] == ["rows_weight", str(y.size)]


def test_the_page_says_which_data_the_metrics_are_on(binary, tmp_path):
    model, metrics, _ = binary
    for dataset, heading in [
        ("validation", "Metrics on the validation data"),
        ("training", "Metrics on the training data"),
    ]:
        page = write_report(tmp_path / dataset, model, {"dataset": dataset, **metrics}, "m")
        assert f"<h2>{heading}</h2>" in page.read_text()
        assert dataset_heading({"dataset": dataset}, "m")[0] == heading
    # evaluate passes no "dataset": the data is the one its title names
    page = write_report(tmp_path / "evaluate", model, metrics, "model on <new data>").read_text()
    assert "<h2>Metrics on the evaluated data</h2>" in page
    assert "the data named in the title: model on &lt;new data&gt;." in page
    assert "<new data>" not in page


def test_binary_coefficients_with_the_standard_errors_of_summary(binary, tmp_path):
    model, metrics, _ = binary
    summary = model.summary()  # the nonrobust covariance of Newton's last step: no pass
    page = write_report(tmp_path, model, metrics, "m").read_text()
    header, *rows = tables(page)["term"]
    assert header == ["term", "coef", "std err", "z", "P>|z|", "CI low", "CI high"]
    assert [row[0] for row in rows] == ["intercept", *FEATURES]
    coefs = [float(model.intercept_[0]), *model.coef_[0]]
    assert [row[1] for row in rows] == [shown(v) for v in coefs]
    assert [float(row[1]) for row in rows] == pytest.approx(coefs, rel=1e-5)
    assert [row[2] for row in rows] == [shown(v) for v in summary.std_errors]
    assert [row[4] for row in rows] == [shown(v) for v in summary.p_values]
    assert [row[5:] for row in rows] == [[shown(lo), shown(hi)] for lo, hi in summary.conf_int]
    assert "Covariance nonrobust, 95% confidence intervals, 800 rows" in page
    # the feature name is escaped everywhere, never written as markup
    assert "&lt;b&gt;&amp;income" in page and "<b>&income" not in page


def test_the_summary_stored_by_train_is_the_one_shown(tmp_path):
    """``dasklr train`` stores ``summary_`` as inference.cov_type and level ask; the page
    shows that one (HC0, 90%), not the nonrobust one the model could also give."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 3))
    y = (X @ [1.0, -0.5, 0.25] + rng.logistic(size=400) > 0).astype(float)
    model = dasklr.LogisticRegression(alpha=1e-3, tol=1e-10).fit(X, y)
    model.summary_ = model.summary(cov_type="HC0", level=0.9)
    page = write_report(tmp_path, model, None, "m").read_text()
    _header, *rows = tables(page)["term"]
    assert [row[0] for row in rows] == ["intercept", "x0", "x1", "x2"]
    assert [row[2] for row in rows] == [shown(v) for v in model.summary_.std_errors]
    assert model.summary_.std_errors != pytest.approx(model.summary().std_errors)
    assert "Covariance HC0, 90% confidence intervals" in page
    assert "<p>No metrics.</p>" in page and not (tmp_path / "roc.png").exists()
    assert not (tmp_path / "path.png").exists()  # no grid, no path
    assert (tmp_path / "objective.png").read_bytes()[:8] == PNG


def test_multinomial_coefficients_one_column_per_class(multinomial, tmp_path):
    model, metrics, _ = multinomial
    page = write_report(tmp_path, model, metrics, "m").read_text()
    header, *rows = tables(page)["term"]
    assert header == ["term", *(f"coef {label}" for label in CLASSES)]
    assert rows[0] == ["intercept", *(shown(v) for v in model.intercept_)]
    assert [row[0] for row in rows[1:]] == ["x0", "x1", "x2", "x3"]
    assert [row[1:] for row in rows[1:]] == [[shown(v) for v in col] for col in model.coef_.T]
    assert "No standard errors" in page and "std err" not in page
    assert "coef a&lt;" in page  # the class label, escaped


def test_the_path_legend_names_the_largest_coefficients_at_the_chosen_alpha(binary):
    model, _, _ = binary
    selection = model.selection_
    best = chosen_index(selection)
    assert model.alphas_[best] == model.alpha_
    chosen = np.asarray(selection["path"]["coef"])[best].ravel()
    np.testing.assert_array_equal(chosen, model.coef_.ravel())  # the chosen model's
    legend = path_legend(chosen, coefficient_names(model))
    largest = np.argsort(-np.abs(model.coef_[0]))[:10]
    assert list(legend.labels.items()) == [(j, FEATURES[j]) for j in largest]
    assert legend.title == "10 largest |coef| of 14\nat the chosen alpha"
    assert chosen_alpha_label(selection) == f"chosen alpha = {model.alpha_:g}"
    assert selection_title(selection) == "held-out log_loss (mean of 3 folds)"
    # few enough lines: every one is named
    everything = path_legend(chosen, coefficient_names(model), limit=20)
    assert sorted(everything.labels.values()) == sorted(FEATURES)
    assert everything.title == "coefficient"


def test_multinomial_path_lines_are_named_class_and_feature(multinomial):
    model, _, _ = multinomial
    names = coefficient_names(model)
    assert names == [f"{label}:x{j}" for label in CLASSES for j in range(4)]
    chosen = np.asarray(model.selection_["path"]["coef"])[chosen_index(model.selection_)]
    legend = path_legend(chosen, names)
    assert len(legend.labels) == 10 and legend.title.startswith("10 largest |coef| of 12")
    top = int(np.argmax(np.abs(model.coef_)))  # ravel order: class block, then feature
    assert next(iter(legend.labels.items())) == (top, names[top])


def test_selection_on_validation_data_is_titled_so(tmp_path, client):
    """alpha chosen on the validation data: the scores are titled so, and the page says
    that metrics on that data are a little optimistic."""
    rng = np.random.default_rng(6)
    X = rng.normal(size=(600, 3))
    y = (X @ [1.0, 2.0, -1.0] + rng.logistic(size=600) > 0).astype(float)
    model = dasklr.LogisticRegressionCV(alphas=ALPHAS, scoring="roc_auc", tol=1e-8)
    model.fit(X[:400], y[:400], validation=(X[400:], y[400:]))
    assert model.selection_["cv"] == "validation data"
    assert selection_title(model.selection_) == "held-out roc_auc (validation data)"
    validation = _write(tmp_path / "validation", X[400:], y[400:], ["x0", "x1", "x2"])
    metrics = {"dataset": "validation", **evaluate_model(model, validation, client=client)}
    page = write_report(tmp_path / "report", model, metrics, "m").read_text()
    assert "It also chose alpha, so the metrics are a little optimistic." in page
    assert f"alpha = {model.alpha_:g} chosen from 4 by the validation data" in page


def test_calibration_points_carry_each_bins_rows(case):
    _, metrics, y = case
    for entry in metrics["classes"]:
        points = calibration_points(entry)
        filled = [b for b in entry["calibration"] if b["weight"] > 0]
        assert [(p.predicted, p.observed, p.rows) for p in points] == [
            (b["mean_predicted"], b["observed"], b["weight"]) for b in filled
        ]
        # every row falls in one bin of each scored class's probability
        assert sum(p.rows for p in points) == y.size
        assert [p.text for p in points] == [str(int(b["weight"])) for b in filled]


@pytest.mark.parametrize(
    ("rows", "text"),
    [
        (7.0, "7"),
        (9999.0, "9999"),
        (3.25, "3.25"),
        (12_345.0, "12.3k"),
        (999_999.0, "1M"),
        (2_500_000.0, "2.5M"),
        (4.2e9, "4.2e+09"),
    ],
)
def test_count_text(rows, text):
    assert count_text(rows) == text


def test_every_plot_is_a_png_the_page_shows(case, tmp_path):
    model, metrics, _ = case
    page = write_report(tmp_path, model, {"dataset": "training", **metrics}, "m").read_text()
    for name in ("objective", "path", "roc", "calibration"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG
        assert f"<img src='{name}.png'" in page
