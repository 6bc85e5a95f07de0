"""Reports: PNG plots of a fit and its metrics, and an index.html that shows them.

Drawn with matplotlib's object-oriented API (``Figure``, no pyplot), so no global
backend or state is touched. matplotlib is an optional dependency
(``pip install "dasklr[report]"``): plots are what it does best, and nothing else in
dasklr needs it. The page's tables are plain HTML (no pandas), every text escaped.
"""

import html
import math
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dasklr.errors import ConfigError

#: Lines of the regularisation path named in its legend; with more coefficients, only the
#: largest at the chosen alpha are (a legend of hundreds of names helps no one)
PATH_LEGEND = 10

STYLE = (
    "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
    "margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:0.2em 0.6em}"
    "td{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left}</style>"
)


class PathLegend(NamedTuple):
    """The legend of the path plot: label by column of the flattened coefficients
    (largest |coef| at the chosen alpha first), and the legend's title."""

    labels: dict[int, str]
    title: str


class CalibrationPoint(NamedTuple):
    """One non-empty calibration bin of a class, with its rows written as shown."""

    predicted: float
    observed: float
    rows: float
    text: str


def check_report_possible(directory) -> None:
    """Refuse, before any work, a report that could not be drawn or written: matplotlib
    missing, or a folder that cannot be made."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError(
            'reports need matplotlib: pip install "dasklr[report]" (or matplotlib)'
        ) from None
    folder = Path(directory)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(f"--report {directory}: {existing} is a file, not a folder")
    if existing is not None and not os.access(existing, os.W_OK):
        raise ConfigError(f"--report {directory}: {existing} is not writable")


def write_report(directory, model, metrics: dict | None, title: str) -> Path:
    """Write objective.png (objective and gradient per pass), path.png (for a grid fit),
    roc.png and calibration.png (when there are metrics) and index.html into
    ``directory``; return the page's path."""
    check_report_possible(directory)
    from matplotlib.figure import Figure

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    images = [_objective_plot(Figure, model.history_, folder / "objective.png")]
    selection = getattr(model, "selection_", None)
    if selection:
        images.append(_path_plot(Figure, model, selection, folder / "path.png"))
    if metrics:
        images.append(_roc_plot(Figure, metrics, folder / "roc.png"))
        images.append(_calibration_plot(Figure, metrics, folder / "calibration.png"))
    page = folder / "index.html"
    page.write_text(_page(title, model, metrics, images))
    return page


# -- names and labels (pure, so that the tests check them without reading pixels) ------


def feature_names(model) -> list[str]:
    """The model's feature names, or x0, x1… as ``summary()`` calls unnamed ones."""
    default = [f"x{j}" for j in range(model.n_features_in_)]
    return [str(name) for name in getattr(model, "feature_names_in_", default)]


def coefficient_names(model) -> list[str]:
    """One name per coefficient in ``coef_.ravel()`` order: the feature, as
    "class:feature" when there is a block per class (multinomial), to tell them apart."""
    names = feature_names(model)
    if np.shape(model.coef_)[0] == 1:
        return names
    return [f"{label}:{name}" for label in model.classes_.tolist() for name in names]


def path_legend(chosen: np.ndarray, names: list[str], limit: int = PATH_LEGEND) -> PathLegend:
    """Name every line of the path when there are at most ``limit``, else the ``limit``
    with the largest |coef| at the chosen alpha (``chosen``, flattened), and say so."""
    order = np.argsort(-np.abs(np.ravel(chosen)), kind="stable")[:limit]
    labels = {int(j): names[j] for j in order}
    if len(names) <= limit:
        return PathLegend(labels, "coefficient")
    return PathLegend(labels, f"{len(labels)} largest |coef| of {len(names)}\nat the chosen alpha")


def chosen_index(selection: dict) -> int:
    """Where the chosen alpha is in the grid."""
    return int(np.argmin(np.abs(np.asarray(selection["alphas"]) - selection["alpha"])))


def chosen_alpha_label(selection: dict) -> str:
    """The label of the chosen alpha's marker."""
    return f"chosen alpha = {selection['alpha']:g}"


def selection_title(selection: dict) -> str:
    """What the right panel's scores are: the mean over k folds, or the validation data's."""
    cv, scoring = selection["cv"], selection["scoring"]
    if isinstance(cv, int):
        return f"held-out {scoring} (mean of {cv} folds)"
    return f"held-out {scoring} ({cv})"  # "validation data"


def calibration_points(row: dict) -> list[CalibrationPoint]:
    """A class's non-empty calibration bins, with their rows (Σ weights: the row count
    without sample weights), which say how far to trust each point."""
    return [
        CalibrationPoint(b["mean_predicted"], b["observed"], b["weight"], count_text(b["weight"]))
        for b in row["calibration"]
        if b["mean_predicted"] is not None
    ]


def count_text(rows: float) -> str:
    """A count, short: exact below 10 000, else 3 digits and k or M (12.3k, 4.5M)."""
    if rows < 1e4:
        return str(int(rows)) if float(rows).is_integer() else f"{rows:.3g}"
    rounded = float(f"{rows:.3g}")
    if rounded < 1e6:
        return f"{rounded / 1e3:g}k"
    return f"{rounded / 1e6:g}M" if rounded < 1e9 else f"{rounded:.3g}"


# -- plots -------------------------------------------------------------------------------


def _objective_plot(Figure, history: list[dict], path: Path) -> str:
    figure = Figure(figsize=(9, 3.5))
    left, right = figure.subplots(1, 2)
    passes = [h["passes"] for h in history]
    left.plot(passes, [h["objective"] for h in history], marker="o")
    left.set(xlabel="passes over the data", ylabel="objective F", title="objective")
    right.semilogy(passes, [max(h["grad_norm"], 1e-300) for h in history], marker="o")
    right.set(xlabel="passes over the data", ylabel="max |gradient|", title="gradient")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path.name


def _path_plot(Figure, model, selection: dict, path: Path) -> str:
    """Coefficients along the regularisation path, and the held-out score per alpha,
    with the chosen alpha marked on both."""
    alphas = np.asarray(selection["alphas"])
    coef = np.asarray(selection["path"]["coef"]).reshape(alphas.size, -1)  # (alphas, lines)
    best = chosen_index(selection)
    legend = path_legend(coef[best], coefficient_names(model))
    figure = Figure(figsize=(12, 4.5), layout="constrained")
    left, right = figure.subplots(1, 2)
    for j in range(coef.shape[1]):  # the unnamed lines in grey, under the named ones
        if j not in legend.labels:
            left.semilogx(alphas, coef[:, j], color="0.75", linewidth=0.8)
    for j, label in legend.labels.items():
        left.semilogx(alphas, coef[:, j], linewidth=1.5, label=label)
    left.set(xlabel="alpha", ylabel="coefficient", title="regularisation path")
    better = "higher" if selection["scoring"] == "roc_auc" else "lower"
    right.semilogx(alphas, selection["mean_scores"], marker="o", label=selection["scoring"])
    right.plot(alphas[best], selection["mean_scores"][best], marker="*", markersize=14, color="C3")
    right.set(xlabel="alpha", ylabel=f"{selection['scoring']} ({better} is better)")
    right.set_title(selection_title(selection))
    for axes in (left, right):
        axes.axvline(alphas[best], color="C3", linestyle="--", label=chosen_alpha_label(selection))
        axes.invert_xaxis()  # from strong penalties to weak, as the path is fitted
    left.legend(
        title=legend.title,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize="small",
        title_fontsize="small",
    )
    right.legend(loc="best", fontsize="small")
    figure.savefig(path, dpi=100)
    return path.name


def _roc_plot(Figure, metrics: dict, path: Path) -> str:
    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.subplots()
    for row in metrics["classes"]:
        auc = "–" if row["auc"] is None else f"{row['auc']:.4f}"
        axes.plot(row["roc"]["fpr"], row["roc"]["tpr"], label=f"{row['class']} (AUC {auc})")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    return _with_diagonal(figure, axes, path, "lower right")


def _calibration_plot(Figure, metrics: dict, path: Path) -> str:
    """Observed against predicted frequency per bin, each point with its rows, and the
    rows per bin under it: a point of 3 rows is noise, one of 30 000 is not."""
    figure = Figure(figsize=(5, 6))
    axes, counts = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    for k, row in enumerate(metrics["classes"]):
        color = f"C{k % 10}"
        points = calibration_points(row)
        if points:
            predicted = [p.predicted for p in points]
            observed = [p.observed for p in points]
            axes.plot(predicted, observed, marker="o", color=color, label=f"class {row['class']}")
            for p in points:
                axes.annotate(
                    p.text,
                    (p.predicted, p.observed),
                    xytext=(4, -10),
                    textcoords="offset points",
                    fontsize=7,
                    color=color,
                )
        edges = [row["calibration"][0]["bin"][0], *(b["bin"][1] for b in row["calibration"])]
        counts.stairs([b["weight"] for b in row["calibration"]], edges, color=color)
    axes.set(ylabel="observed frequency", title="calibration (rows per point)")
    counts.set(xlabel="mean predicted probability", ylabel="rows per bin")
    counts.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    return _with_diagonal(figure, axes, path, "upper left")


def _with_diagonal(figure, axes, path: Path, legend: str) -> str:
    """Add the y = x reference line and the legend, and save the figure."""
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axes.legend(loc=legend, fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path.name


# -- the page ----------------------------------------------------------------------------


def _page(title: str, model, metrics: dict | None, images: list[str]) -> str:
    escape = html.escape
    status = "converged" if model.converged_ else "did not converge"
    selection = getattr(model, "selection_", None)
    return "\n".join(
        [
            "<!doctype html>",
            f"<html><head><meta charset='utf-8'><title>{escape(title)}</title>{STYLE}</head>",
            f"<body><h1>{escape(title)}</h1>",
            f"<p>{status} after {model.n_iter_} iterations and {model.n_passes_} passes; "
            f"classes {escape(str(model.classes_.tolist()))}.</p>",
            *([f"<p>{escape(selection_sentence(selection))}</p>"] if selection else []),
            *_metrics_section(title, model, metrics),
            *_coefficient_section(model),
            "<h2>Plots</h2>",
            *[f"<p><img src='{escape(name)}' alt='{escape(name)}'></p>" for name in images],
            "</body></html>",
        ]
    )


def selection_sentence(selection: dict) -> str:
    """Which alpha the grid chose, how, and its score."""
    best = chosen_index(selection)
    how = (
        f"{selection['cv']}-fold cross-validation"
        if isinstance(selection["cv"], int)
        else f"the {selection['cv']}"
    )
    return (
        f"alpha = {selection['alpha']:g} chosen from {len(selection['alphas'])} by {how} "
        f"(held-out {selection['scoring']} {selection['mean_scores'][best]:.6g})."
    )


def dataset_heading(metrics: dict, title: str) -> tuple[str, str]:
    """The metrics' heading and a sentence on the data they were computed on:
    ``metrics["dataset"]`` from ``dasklr train``, else (evaluate) the data in the title."""
    dataset = metrics.get("dataset")
    if dataset == "training":
        note = "the rows the model was fitted on (no validation data): they flatter it"
        return "Metrics on the training data", f"Computed on {note}."
    if dataset == "validation":
        return "Metrics on the validation data", "Computed on the validation data, held out."
    if dataset:
        return f"Metrics on the {dataset} data", f"Computed on the {dataset} data."
    return "Metrics on the evaluated data", f"Computed on the data named in the title: {title}."


def _metrics_section(title: str, model, metrics: dict | None) -> list[str]:
    if not metrics:
        return ["<h2>Metrics</h2>", "<p>No metrics.</p>"]
    heading, sentence = dataset_heading(metrics, title)
    selection = getattr(model, "selection_", None) or {}
    if metrics.get("dataset") == "validation" and selection.get("cv") == "validation data":
        sentence += " It also chose alpha, so the metrics are a little optimistic."
    overall = [
        [name, number(metrics[name])]
        for name in ("log_loss", "accuracy", "brier", "rows_weight")
        if name in metrics
    ]
    header, rows = class_rows(metrics)
    return [
        f"<h2>{html.escape(heading)}</h2>",
        f"<p>{html.escape(sentence)}</p>",
        _table(["metric", "value"], overall),
        f"<p>{html.escape(_scoring_note(model, metrics))}</p>",
        _table(header, rows),
    ]


def class_rows(metrics: dict) -> tuple[list[str], list[list[str]]]:
    """The per-class table: a row per scored class, a column per metric (support: the
    class's Σ weights, its row count without sample weights), as the page shows them."""
    keys = ["auc", "auc_error_bound", "precision", "recall", "f1"]
    classes = metrics["classes"]
    support = all("weight" in row for row in classes)
    header = ["class", *keys, *(["support"] if support else [])]
    rows = [
        [
            str(row["class"]),
            *(number(row.get(key)) for key in keys),
            *([number(row["weight"])] if support else []),
        ]
        for row in classes
    ]
    return header, rows


def _scoring_note(model, metrics: dict) -> str:
    """Which class is scored against which, and how AUC was computed."""
    classes = model.classes_.tolist()
    if len(metrics["classes"]) == 1:
        threshold = 0.5 if metrics.get("threshold") is None else metrics["threshold"]
        how = (
            f"Scored: class {classes[1]} against class {classes[0]}, predicted when "
            f"P({classes[1]}) > {threshold:g}."
        )
    else:
        how = "Each class scored against the rest; a row is predicted as its most probable class."
    support = " support: the Σ weights of the class's rows (its rows without weights)."
    if metrics.get("auc_exact", True):
        return how + support
    return f"{how} AUC from score histograms: auc_error_bound bounds its error;{support}"


def _coefficient_section(model) -> list[str]:
    summary = model_summary(model)
    header, rows = coefficient_rows(model, summary)
    classes = model.classes_.tolist()
    what = (
        f"Log-odds of class {classes[1]} against class {classes[0]}."
        if np.shape(model.coef_)[0] == 1
        else "One column per class (softmax; the intercepts sum to 0)."
    )
    if summary is None:
        note = (
            f"{what} No standard errors: a model has them after a binary fit without L1 "
            "that converged (dasklr train stores them as inference.cov_type asks)."
        )
    else:
        note = (
            f"{what} Covariance {summary.cov_type}, {summary.level * 100:g}% confidence intervals, "
            f"{summary.nobs} rows; log-likelihood {summary.llf:.6g} (intercept only "
            f"{summary.llnull:.6g}), pseudo R² {summary.pseudo_r2:.4f}, AIC {summary.aic:.6g}, "
            f"BIC {summary.bic:.6g}, likelihood-ratio test p {summary.lr_pvalue:.3g}."
        )
    return ["<h2>Coefficients</h2>", f"<p>{html.escape(note)}</p>", _table(header, rows)]


def model_summary(model):
    """The summary stored by ``dasklr train`` (``summary_``), else one that costs no pass:
    from the nonrobust covariance the model holds (after Newton, or loaded); else None."""
    stored = getattr(model, "summary_", None)
    if stored is not None:
        return stored
    if "nonrobust" not in (getattr(model, "covariances_", None) or {}):
        return None  # summary() would need a pass over the training data
    try:
        return model.summary("nonrobust")
    except ValueError:  # multinomial, L1, not converged, singular
        return None


def coefficient_rows(model, summary=None) -> tuple[list[str], list[list[str]]]:
    """The coefficient table, intercept first: a column per class block (one for binary),
    or with a ``summary`` its standard errors, z, p-values and confidence intervals."""
    if summary is not None:
        header = ["term", "coef", "std err", "z", "P>|z|", "CI low", "CI high"]
        columns = zip(
            summary.names,
            summary.params,
            summary.std_errors,
            summary.z,
            summary.p_values,
            summary.conf_int,
            strict=True,
        )
        rows = [[str(n), *(number(v) for v in (c, s, z, p, *ci))] for n, c, s, z, p, ci in columns]
        return header, rows
    coef, intercept = np.atleast_2d(model.coef_), np.ravel(model.intercept_)
    blocks = ["coef"] if coef.shape[0] == 1 else [f"coef {c}" for c in model.classes_.tolist()]
    rows = [[name, *(number(v) for v in coef[:, j])] for j, name in enumerate(feature_names(model))]
    if getattr(model, "fit_intercept", True):
        rows.insert(0, ["intercept", *(number(v) for v in intercept)])
    return ["term", *blocks], rows


def number(value) -> str:
    """A number as the page shows it: 6 significant digits, – for none."""
    if value is None or math.isnan(float(value)):
        return "–"
    return format(float(value), ".6g")


def _table(header: list[str], rows: list[list[str]]) -> str:
    """An HTML table, every text escaped; the first column names the row."""
    head = "".join(f"<th scope='col'>{html.escape(h)}</th>" for h in header)
    body = [
        f"<tr><th scope='row'>{html.escape(first)}</th>"
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in rest)
        + "</tr>"
        for first, *rest in rows
    ]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
