"""Reports: PNG plots of a fit and its metrics, and an index.html that shows them.

Drawn with matplotlib's object-oriented API (``Figure``, no pyplot), so no global
backend or state is touched. matplotlib is an optional dependency
(``pip install "dasklr[report]"``): plots are what it does best, and nothing else in
dasklr needs it.
"""

import html
import os
from pathlib import Path

from dasklr.errors import ConfigError


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
    """Write objective.png (objective and gradient per pass), roc.png and calibration.png
    (when there are metrics) and index.html into ``directory``; return the page's path."""
    check_report_possible(directory)
    from matplotlib.figure import Figure

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    images = [_objective_plot(Figure, model.history_, folder / "objective.png")]
    selection = getattr(model, "selection_", None)
    if selection:
        images.append(_path_plot(Figure, selection, folder / "path.png"))
    if metrics:
        images.append(_roc_plot(Figure, metrics, folder / "roc.png"))
        images.append(_calibration_plot(Figure, metrics, folder / "calibration.png"))
    page = folder / "index.html"
    page.write_text(_page(title, model, metrics, images))
    return page


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


def _path_plot(Figure, selection: dict, path: Path) -> str:
    """Coefficients along the regularisation path, and the held-out score per alpha."""
    import numpy as np

    figure = Figure(figsize=(9, 3.5))
    left, right = figure.subplots(1, 2)
    alphas = np.asarray(selection["alphas"])
    coef = np.asarray(selection["path"]["coef"])  # (alphas, blocks, features)
    left.semilogx(alphas, coef.reshape(coef.shape[0], -1), linewidth=1)
    left.set(xlabel="alpha", ylabel="coefficient", title="regularisation path")
    right.semilogx(alphas, selection["mean_scores"], marker="o")
    right.set(xlabel="alpha", ylabel=selection["scoring"], title=f"selection ({selection['cv']})")
    for axes in (left, right):
        axes.axvline(selection["alpha"], color="grey", linestyle=":")
        axes.invert_xaxis()  # from strong penalties to weak, as the path is fitted
    figure.tight_layout()
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
    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.subplots()
    for row in metrics["classes"]:
        points = [
            (b["mean_predicted"], b["observed"])
            for b in row["calibration"]
            if b["mean_predicted"] is not None
        ]
        if points:
            predicted, observed = zip(*points, strict=True)
            axes.plot(predicted, observed, marker="o", label=str(row["class"]))
    axes.set(xlabel="mean predicted probability", ylabel="observed frequency")
    axes.set_title("calibration")
    return _with_diagonal(figure, axes, path, "upper left")


def _with_diagonal(figure, axes, path: Path, legend: str) -> str:
    """Add the y = x reference line and the legend, and save the figure."""
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axes.legend(loc=legend, fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path.name


def _page(title: str, model, metrics: dict | None, images: list[str]) -> str:
    escape = html.escape
    rows = []
    if metrics:
        for name in ("log_loss", "accuracy", "brier"):
            rows.append(f"<tr><th>{name}</th><td>{metrics[name]:.6g}</td></tr>")
        for row in metrics["classes"]:
            cells = " ".join(
                f"{key} {'–' if row[key] is None else format(row[key], '.6g')};"
                for key in ("auc", "auc_error_bound", "precision", "recall", "f1")
            )
            rows.append(f"<tr><th>class {escape(str(row['class']))}</th><td>{cells}</td></tr>")
    status = "converged" if model.converged_ else "did not converge"
    return "\n".join(
        [
            "<!doctype html>",
            f"<html><head><meta charset='utf-8'><title>{escape(title)}</title></head><body>",
            f"<h1>{escape(title)}</h1>",
            f"<p>{status} after {model.n_iter_} iterations and {model.n_passes_} passes; "
            f"classes {escape(str(model.classes_.tolist()))}.</p>",
            f"<table>{''.join(rows)}</table>" if rows else "<p>No metrics.</p>",
            *[f"<p><img src='{escape(name)}' alt='{escape(name)}'></p>" for name in images],
            "</body></html>",
        ]
    )
