"""The nightly job, end to end through the `dasklr` command in subprocesses: train, info,
predict, evaluate; metrics against scikit-learn; artifacts that refuse tampering."""

import json
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

import dasklr
from dasklr.artifacts import metadata_checksum
from dasklr.data.synthetic import make_classification
from dasklr.errors import ModelFormatError
from dasklr.estimators.scoring import evaluate_model


def dasklr_cli(*args: str, scheduler: str) -> subprocess.CompletedProcess:
    """Run the installed command as an operator would, with the scheduler from the env."""
    return subprocess.run(
        [sys.executable, "-m", "dasklr", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DASKLR_SCHEDULER": scheduler},
    )


def write_dataset(folder: Path, X: np.ndarray, y: np.ndarray, files: int = 3) -> None:
    folder.mkdir(parents=True)
    for i, rows in enumerate(np.array_split(np.arange(len(y)), files)):
        columns = {f"x{j}": X[rows, j] for j in range(X.shape[1])}
        columns |= {"id": rows.astype(np.int64), "y": y[rows]}
        pq.write_table(pa.table(columns), folder / f"part-{i}.parquet", row_group_size=700)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cluster):
    """Train through the CLI once; the model, its data and the scheduler address."""
    root = tmp_path_factory.mktemp("batch")
    X, y, _, _ = make_classification(6000, 5, seed=8)
    write_dataset(root / "train", X, y)
    X_new, y_new, _, _ = make_classification(4000, 5, seed=9)
    write_dataset(root / "new", X_new, y_new)
    config = root / "nightly.toml"
    config.write_text(
        f'[data]\npath = "{root / "train"}"\nlabel = "y"\n'
        f'features = ["x0", "x1", "x2", "x3", "x4"]\nvalidation = "{root / "new"}"\n\n'
        f'[model]\nalpha = 0.001\ntol = 1e-9\n\n[output]\npath = "{root / "model"}"\n'
    )
    result = dasklr_cli(
        "train",
        str(config),
        "--quiet",
        "--report",
        str(root / "report"),
        scheduler=cluster.scheduler_address,
    )
    assert result.returncode == 0, result.stderr
    return root, cluster.scheduler_address, (X_new, y_new)


def test_info_shows_what_the_model_holds(trained):
    root, scheduler, _ = trained
    result = dasklr_cli("info", str(root / "model"), scheduler=scheduler)
    assert result.returncode == 0, result.stderr
    assert "classes: [0, 1]" in result.stdout and "x0, x1, x2, x3, x4" in result.stdout
    assert "trained on 6000 rows in 3 files" in result.stdout
    assert "metrics on the validation data" in result.stdout
    # train --report: the objective per pass, and the validation metrics' curves
    shown = (root / "report" / "index.html").read_text()
    assert all(f"src='{n}.png'" in shown for n in ("objective", "roc", "calibration"))
    metadata = json.loads(
        dasklr_cli("info", str(root / "model"), "--json", scheduler=scheduler).stdout
    )
    files = metadata["training_data"]["files"]
    assert [Path(f["path"]).name for f in files] == [
        "part-0.parquet",
        "part-1.parquet",
        "part-2.parquet",
    ]
    assert all(f["size"] > 0 and f["version"] for f in files)
    assert set(metadata["versions"]) >= {"dasklr", "numpy", "dask", "distributed", "pyarrow"}


def test_predict_writes_what_predict_proba_gives(trained, tmp_path):
    root, scheduler, (X_new, _) = trained
    out = tmp_path / "scores"
    result = dasklr_cli(
        "predict",
        str(root / "model"),
        str(root / "new"),
        "--output",
        str(out),
        "--keep",
        "id",
        scheduler=scheduler,
    )
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out).sort_by("id")
    model = dasklr.load_model(root / "model")
    expected = model.predict_proba(X_new)
    np.testing.assert_array_equal(table.column("id").to_numpy(), np.arange(4000))
    # the same float64 arithmetic on the same values: equal to the last bit or two
    np.testing.assert_allclose(table.column("proba_1").to_numpy(), expected[:, 1], rtol=1e-14)
    np.testing.assert_allclose(table.column("proba_0").to_numpy(), expected[:, 0], rtol=1e-14)
    np.testing.assert_array_equal(table.column("prediction").to_numpy(), model.predict(X_new))
    # the key columns may come from the config's predict.keep instead
    config = tmp_path / "c.toml"
    config.write_text(
        '[data]\npath = "x"\nlabel = "y"\n\n[predict]\nkeep = ["id"]\n\n[output]\npath = "m"\n'
    )
    from_config = dasklr_cli(
        "predict",
        str(root / "model"),
        str(root / "new"),
        "--output",
        str(tmp_path / "again"),
        "--config",
        str(config),
        scheduler=scheduler,
    )
    assert from_config.returncode == 0, from_config.stderr
    assert pq.read_table(tmp_path / "again").column_names[0] == "id"
    # an existing output is kept unless --overwrite
    again = dasklr_cli(
        "predict",
        str(root / "model"),
        str(root / "new"),
        "--output",
        str(out),
        scheduler=scheduler,
    )
    assert again.returncode == 7 and "already exists" in again.stderr  # output exists
    assert sorted(p.name for p in out.parent.iterdir()) == ["again", "c.toml", "scores"]


def test_evaluate_matches_scikit_learn(trained):
    root, scheduler, (X_new, y_new) = trained
    result = dasklr_cli(
        "evaluate", str(root / "model"), str(root / "new"), "--json", scheduler=scheduler
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert "roc" not in metrics["classes"][0]  # the curve's points only with --curves
    assert re.fullmatch(r"metrics: \d+ chunks in [\d.]+ s\n", result.stderr)  # progress, a log
    p = dasklr.load_model(root / "model").predict_proba(X_new)[:, 1]
    # exact path (4000 rows): within 1e-12 of scikit-learn
    assert metrics["auc_exact"]
    assert metrics["log_loss"] == pytest.approx(log_loss(y_new, p), rel=1e-12)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_new, p > 0.5), rel=1e-12)
    assert metrics["brier"] == pytest.approx(brier_score_loss(y_new, p), rel=1e-12)
    positive = metrics["classes"][0]
    assert positive["class"] == 1
    assert positive["auc"] == pytest.approx(roc_auc_score(y_new, p), rel=1e-12)
    assert positive["auc_error_bound"] == 0.0
    curves = dasklr_cli(
        "evaluate",
        str(root / "model"),
        str(root / "new"),
        "--json",
        "--curves",
        "--quiet",
        scheduler=scheduler,
    )
    assert curves.stderr == "" and "roc" in json.loads(curves.stdout)["classes"][0]
    # and the table form
    table = dasklr_cli("evaluate", str(root / "model"), str(root / "new"), scheduler=scheduler)
    assert table.returncode == 0 and "log-loss" in table.stdout
    # the stored validation metrics are the same numbers
    stored = dasklr.load_model(root / "model").metrics_
    assert stored["dataset"] == "validation"
    assert stored["log_loss"] == pytest.approx(metrics["log_loss"], rel=1e-12)


def test_sketched_auc_is_within_its_bound(trained, client):
    root, _, (X_new, y_new) = trained
    model = dasklr.load_model(root / "model")
    data = dasklr.read_parquet(root / "new", label="y", features=list(model.feature_names_in_))
    sketched = evaluate_model(model, data, client=client, exact_rows=0)
    assert not sketched["auc_exact"]
    row = sketched["classes"][0]
    truth = roc_auc_score(y_new, model.predict_proba(X_new)[:, 1])
    assert 0 < row["auc_error_bound"] < 1e-3
    assert abs(row["auc"] - truth) <= row["auc_error_bound"]


def test_multinomial_metrics_per_class(client, tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 4))
    y = np.array(["a", "b", "c"])[
        np.argmax(X @ rng.normal(size=(4, 3)) + rng.gumbel(size=(3000, 3)), 1)
    ]
    write_dataset(tmp_path / "d", X, y)
    data = dasklr.read_parquet(tmp_path / "d", label="y", features=[f"x{j}" for j in range(4)])
    model = dasklr.LogisticRegression(alpha=1e-3, client=client).fit(data)
    metrics = evaluate_model(model, data, client=client)
    P = model.predict_proba(X)
    assert metrics["log_loss"] == pytest.approx(log_loss(y, P, labels=["a", "b", "c"]), rel=1e-12)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, model.predict(X)), rel=1e-12)
    for k, row in enumerate(metrics["classes"]):
        assert row["class"] == "abc"[k]
        assert row["auc"] == pytest.approx(roc_auc_score(y == row["class"], P[:, k]), rel=1e-12)


# -- artifacts that refuse tampering ----------------------------------------------------


class Payload:
    """Unpickling this would create the marker file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def copy_model(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


def test_edited_array_is_refused(trained, tmp_path):
    model = copy_model(trained[0] / "model", tmp_path / "m")
    coef = np.load(model / "coef.npy")
    np.save(model / "coef.npy", coef * 1.0001)
    with pytest.raises(ModelFormatError, match=r"coef\.npy: sha256 differs"):
        dasklr.load_model(model)


def test_edited_metadata_is_refused(trained, tmp_path):
    model = copy_model(trained[0] / "model", tmp_path / "m")
    metadata = json.loads((model / "metadata.json").read_text())
    metadata["params"]["alpha"] = 0.5
    (model / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelFormatError, match=r"metadata\.json: checksum differs"):
        dasklr.load_model(model)


def test_pickle_in_place_of_an_array_is_refused_and_never_run(trained, tmp_path):
    model = copy_model(trained[0] / "model", tmp_path / "m")
    marker = tmp_path / "code-ran"
    with open(model / "coef.npy", "wb") as f:
        np.save(f, np.array([Payload(str(marker))], dtype=object), allow_pickle=True)
    # make the hashes agree, as an attacker who rewrites metadata.json too would
    metadata = json.loads((model / "metadata.json").read_text())
    import hashlib

    metadata["arrays"]["coef"]["sha256"] = hashlib.sha256(
        (model / "coef.npy").read_bytes()
    ).hexdigest()
    metadata["checksum"] = metadata_checksum(metadata)
    (model / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelFormatError, match=r"coef\.npy: not a plain \.npy array"):
        dasklr.load_model(model)
    assert not marker.exists()
    assert pickle.dumps(Payload("x"))  # the payload is a real pickle bomb, not a dud


# -- warm start from yesterday's model ---------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
def test_warm_start_from_an_artifact_needs_fewer_passes(trained, tmp_path, solver):
    """Newton converges quadratically from the log-odds start too: it may only tie."""
    root, scheduler, _ = trained
    # today's data: yesterday's rows plus 10% more like them, a slightly moved optimum
    X, y, _, _ = make_classification(6000, 5, seed=8)
    more = np.random.default_rng(10).choice(6000, size=600)
    write_dataset(tmp_path / "today", np.vstack([X, X[more]]), np.concatenate([y, y[more]]))
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{tmp_path / "today"}"\nlabel = "y"\n'
        f'features = ["x0", "x1", "x2", "x3", "x4"]\n\n[model]\nalpha = 0.001\ntol = 1e-9\n'
        f'solver = "{solver}"\n\n[output]\npath = "{tmp_path / "cold"}"\nmetrics = false\n'
    )
    cold = dasklr_cli("train", str(config), "--quiet", scheduler=scheduler)
    warm = dasklr_cli(
        "train",
        str(config),
        "--quiet",
        "--init-model",
        str(root / "model"),
        "--set",
        f'output.path="{tmp_path / "warm"}"',
        scheduler=scheduler,
    )
    assert cold.returncode == 0 and warm.returncode == 0, cold.stderr + warm.stderr
    cold_model = dasklr.load_model(tmp_path / "cold")
    warm_model = dasklr.load_model(tmp_path / "warm")
    if solver == "newton":
        assert warm_model.n_passes_ <= cold_model.n_passes_
    else:
        assert warm_model.n_passes_ < cold_model.n_passes_
    # the same optimum: coefficients within 1e-7 (tol 1e-9 on the gradient)
    np.testing.assert_allclose(warm_model.coef_, cold_model.coef_, atol=1e-7)


def test_warm_start_with_other_features_lists_the_differences(trained, tmp_path):
    root, scheduler, _ = trained
    X, y, _, _ = make_classification(500, 5, seed=1)
    write_dataset(tmp_path / "d", X, y)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{tmp_path / "d"}"\nlabel = "y"\n'
        f'features = ["x0", "x1", "x2", "x3", "id"]\n\n'
        f'[model]\ninit_model = "{root / "model"}"\n\n[output]\npath = "{tmp_path / "m"}"\n'
    )
    result = dasklr_cli("train", str(config), "--quiet", scheduler=scheduler)
    assert result.returncode == 3
    assert "missing from the data: ['x4']; new in the data: ['id']" in result.stderr
    assert not (tmp_path / "m").exists()


# -- checkpoints and resume ---------------------------------------------------------------


def checkpoint_config(root: Path, data: Path, solver: str, every: int = 1) -> Path:
    config = root / f"{solver}.toml"
    config.write_text(
        f'[data]\npath = "{data}"\nlabel = "y"\nfeatures = ["x0", "x1", "x2", "x3", "x4"]\n\n'
        f'[model]\nalpha = 0.0001\ntol = 1e-10\nmax_iter = 400\nsolver = "{solver}"\n'
        f'cache = "none"\n\n[output]\npath = "{root / solver}"\nmetrics = false\n'
        f"checkpoint_every = {every}\n"
    )
    return config


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["newton", "gd", "lbfgs"])
def test_killed_train_resumes_to_the_uninterrupted_result(trained, tmp_path, solver):
    """SIGKILL `dasklr train` once a checkpoint exists; --resume gives the same bits."""
    root, scheduler, _ = trained
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    reference_dir.mkdir()
    killed_dir.mkdir()
    # the uninterrupted run, checkpointing too, so both runs do the same work
    reference = dasklr_cli(
        "train",
        str(checkpoint_config(reference_dir, root / "train", solver)),
        "--quiet",
        scheduler=scheduler,
    )
    assert reference.returncode == 0, reference.stderr
    expected = dasklr.load_model(reference_dir / solver)
    assert not (reference_dir / f"{solver}.checkpoint").exists()  # removed once saved

    config = checkpoint_config(killed_dir, root / "train", solver)
    checkpoint = killed_dir / f"{solver}.checkpoint" / "checkpoint.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "dasklr", "train", str(config), "--quiet"],
        env={**os.environ, "DASKLR_SCHEDULER": scheduler},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    target = 2 if solver == "newton" else 5  # iterations done before the kill
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (
            checkpoint.exists()
            and json.loads(checkpoint.read_text())["state"]["iteration"] >= target
        ):
            break
        time.sleep(0.02)
    process.kill()  # SIGKILL: no cleanup runs
    process.wait()
    killed_at = json.loads(checkpoint.read_text())["state"]["iteration"]
    assert killed_at >= target and not (killed_dir / solver).exists()

    resumed = dasklr_cli("train", str(config), "--quiet", "--resume", scheduler=scheduler)
    assert resumed.returncode == 0, resumed.stderr
    model = dasklr.load_model(killed_dir / solver)
    np.testing.assert_array_equal(model.coef_, expected.coef_)
    np.testing.assert_array_equal(model.intercept_, expected.intercept_)
    assert model.n_iter_ == expected.n_iter_ and model.n_passes_ == expected.n_passes_
    assert [h["objective"] for h in model.history_] == [h["objective"] for h in expected.history_]


def test_resume_refuses_a_checkpoint_of_another_config(trained, tmp_path):
    root, scheduler, _ = trained
    config = checkpoint_config(tmp_path, root / "train", "gd")
    data = dasklr.read_parquet(root / "train", label="y", features=[f"x{j}" for j in range(5)])
    from dasklr.cli.config import load_config
    from dasklr.estimators.estimator import data_manifest
    from dasklr.fit.checkpoint import CheckpointPlan

    loaded = load_config(config)
    identity = {
        "config": {"data": loaded["data"], "model": loaded["model"]},
        "data": data_manifest(data),
    }
    plan = CheckpointPlan(
        path=tmp_path / "gd.checkpoint", every=1, identity=json.loads(json.dumps(identity))
    )
    model = dasklr.LogisticRegression(
        alpha=1e-4, tol=1e-10, solver="gd", max_iter=3, cache="none", client=scheduler
    )
    with pytest.warns(dasklr.ConvergenceWarning):
        model.fit(data, checkpoint=plan)
    assert (tmp_path / "gd.checkpoint" / "checkpoint.json").exists()
    result = dasklr_cli(
        "train",
        str(config),
        "--quiet",
        "--resume",
        "--set",
        "model.alpha=0.01",
        scheduler=scheduler,
    )
    assert result.returncode == 2
    assert "was written with model.alpha = 0.0001; the config now has 0.01" in result.stderr


KEEP_SAVING = """
import sys
import dasklr
model = dasklr.load_model(sys.argv[1])
print("ready", flush=True)
while True:
    model.save(sys.argv[2], overwrite=True)
"""


@pytest.mark.slow
def test_killed_while_saving_always_leaves_a_complete_model(trained, tmp_path):
    """SIGKILL a process that keeps replacing a model, at many moments: the path always
    holds a complete model (the swap is one rename), and the next save removes what the
    killed writer left beside it."""
    root = trained[0]
    target = tmp_path / "model"
    dasklr.load_model(root / "model").save(target)
    left_behind = 0
    for delay in np.linspace(0.0, 0.05, 8):
        process = subprocess.Popen(
            [sys.executable, "-c", KEEP_SAVING, str(root / "model"), str(target)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout.readline().strip() == "ready"
        time.sleep(delay)
        process.kill()
        process.wait()
        loaded = dasklr.load_model(target)  # raises if anything is half-written or absent
        assert loaded.coef_.shape == (1, 5)
        left_behind += len(list(tmp_path.glob(".model.*")))
    dasklr.load_model(target).save(target, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # leftovers removed
    print(f"temporary folders left by the 8 kills: {left_behind}")


def test_predict_without_keep_columns_writes_only_the_scores(trained, tmp_path):
    root, scheduler, (X_new, _) = trained
    out = tmp_path / "scores"
    result = dasklr_cli(
        "predict",
        str(root / "model"),
        str(root / "new"),
        "--output",
        str(out),
        scheduler=scheduler,
    )
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    assert table.column_names == ["proba_0", "proba_1", "prediction"]
    expected = dasklr.load_model(root / "model").predict_proba(X_new)[:, 1]
    np.testing.assert_allclose(np.sort(table.column("proba_1").to_numpy()), np.sort(expected))


def test_predict_refuses_an_output_inside_its_input(trained):
    root, scheduler, _ = trained
    inside = root / "new" / "scores"
    result = dasklr_cli(
        "predict",
        str(root / "model"),
        str(root / "new"),
        "--output",
        str(inside),
        scheduler=scheduler,
    )
    assert result.returncode == 2
    assert f"output {inside} cannot be written: it is inside the input folder" in result.stderr
    assert "Traceback" not in result.stderr and not inside.exists()


def start_cli(*args: str, scheduler: str) -> subprocess.Popen:
    """The command started in the background, its output captured as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "dasklr", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DASKLR_SCHEDULER": scheduler},
    )


def start_predict(model: Path, data: Path, output: Path, scheduler: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dasklr",
            "predict",
            str(model),
            str(data),
            "--output",
            str(output),
            "--overwrite",
            "--keep",
            "id",
            "--part-rows",
            "20",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "DASKLR_SCHEDULER": scheduler},
    )


def wait_for(condition, process, timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "predict ended before the moment to kill it"
        assert time.monotonic() < deadline
        time.sleep(0.001)


def predictions_of(output: Path) -> tuple[dict, np.ndarray]:
    """The output's manifest (checked) and its proba_1 column in id order."""
    manifest = json.loads((output / "_manifest.json").read_text())
    assert manifest["checksum"] == metadata_checksum(manifest)
    table = pq.read_table(output).sort_by("id")
    assert [p.name for p in sorted(output.glob("part-*"))] == [e["file"] for e in manifest["parts"]]
    assert table.num_rows == manifest["rows"]
    return manifest, table.column("proba_1").to_numpy()


@pytest.mark.slow
def test_predict_overwrite_killed_at_any_step_leaves_whole_old_or_new_predictions(
    trained, tmp_path
):
    """SIGKILL `predict --overwrite` while its workers write parts, and again just after
    the new folder is swapped in (while the old one is being removed): the output holds
    all of the old predictions or all of the new, never a mix; workers stop writing once
    the killed run is gone; the next run removes what the killed ones left."""
    root, scheduler, _ = trained
    X, y, _, _ = make_classification(6000, 5, seed=10)
    data = tmp_path / "many"
    write_dataset(data, X, y, files=300)  # 300 files of 20 rows: 300 parts of --part-rows 20
    old_model, new_model = root / "model", tmp_path / "halved"
    halved = dasklr.load_model(old_model)
    halved.coef_ = halved.coef_ / 2
    halved.save(new_model)
    expected = {
        "old": dasklr.load_model(old_model).predict_proba(X)[:, 1],
        "new": halved.predict_proba(X)[:, 1],
    }
    output = tmp_path / "scores"
    predict_old = ("predict", str(old_model), str(data), "--output", str(output), "--keep", "id")
    assert dasklr_cli(*predict_old, scheduler=scheduler).returncode == 0
    staged = lambda: [p for d in tmp_path.glob(".scores.tmp-*") for p in d.glob("part-*")]  # noqa: E731

    # 1. while the workers write the new parts
    process = start_predict(new_model, data, output, scheduler)
    wait_for(lambda: len(staged()) >= 60, process)
    process.kill()
    process.wait()
    time.sleep(1.0)  # the tasks running at the kill may finish their part
    after_kill = len(staged())
    time.sleep(3.0)
    assert len(staged()) == after_kill < 300  # nobody writes for the dead run
    manifest, proba = predictions_of(output)
    np.testing.assert_allclose(proba, expected["old"], rtol=1e-12)

    # 2. just after the swap, while the old parts are being removed
    old_inode = output.stat().st_ino
    process = start_predict(new_model, data, output, scheduler)
    wait_for(lambda: output.stat().st_ino != old_inode, process)
    process.kill()
    process.wait()
    manifest, proba = predictions_of(output)
    assert manifest["rows"] == 6000
    assert len(manifest["parts"]) == 300  # --part-rows 20: a part a file
    np.testing.assert_allclose(proba, expected["new"], rtol=1e-12)

    # the next run cleans up after both
    assert dasklr_cli(*predict_old, "--overwrite", scheduler=scheduler).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    np.testing.assert_allclose(predictions_of(output)[1], expected["old"], rtol=1e-12)


@pytest.mark.slow
def test_two_trains_racing_for_one_output_one_wins(trained, tmp_path):
    """Two `dasklr train` runs started together on one new output.path: both pass the
    check at the start, both train, and exactly one writes the model; the other says the
    path was taken meanwhile and fails."""
    root, scheduler, _ = trained
    config = (root / "nightly.toml").read_text()
    for round_ in range(3):
        output = tmp_path / f"model-{round_}"
        path = tmp_path / f"c{round_}.toml"
        path.write_text(config.replace(str(root / "model"), str(output)))
        runs = [
            start_cli(
                "train",
                str(path),
                "--quiet",
                "--set",
                "output.metrics=false",
                scheduler=scheduler,
            )
            for _ in range(2)
        ]
        results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 7], results  # one wins, the other: output exists
        loser = next(err for code, err in results if code != 0)
        assert "already exists" in loser and "Traceback" not in loser
        assert dasklr.load_model(output).coef_.shape == (1, 5)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_reports_write_valid_pngs_and_a_page_that_shows_them(trained, tmp_path):
    from matplotlib.image import imread

    root, scheduler, _ = trained
    result = dasklr_cli(
        "evaluate",
        str(root / "model"),
        str(root / "new"),
        "--report",
        str(tmp_path / "r"),
        scheduler=scheduler,
    )
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "r" / "index.html").read_text()
    for name in ("objective.png", "roc.png", "calibration.png"):
        image = tmp_path / "r" / name
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert imread(image).shape[0] > 100  # decodes as an image
        assert f"src='{name}'" in page
    assert "log_loss" in page and "class 1" in page


@pytest.mark.parametrize("mode", ["error", "drop", "null"])
def test_predict_on_invalid_rows(trained, tmp_path, mode):
    """Two rows with a NaN and a null feature: "error" names the column, the file and
    the row; "drop" leaves them out and counts them; "null" writes them with null
    probabilities and prediction. The other rows are scored as usual."""
    root, scheduler, (X_new, _) = trained
    X = X_new[:300].copy()
    X[7, 2] = np.nan
    columns = {f"x{j}": pa.array(X[:, j]) for j in range(X.shape[1])}
    columns["x4"] = pa.array(X[:, 4], mask=np.arange(300) == 11)  # a null
    columns["id"] = pa.array(np.arange(300))
    data = tmp_path / "bad"
    data.mkdir()
    pq.write_table(pa.table(columns), data / "part-0.parquet")
    out = tmp_path / "scores"
    args = ["predict", str(root / "model"), str(data), "--output", str(out), "--keep", "id"]
    result = dasklr_cli(*args, "--on-invalid", mode, scheduler=scheduler)
    if mode == "error":
        assert result.returncode == 3
        where = r"in file \S+part-0\.parquet, row groups \[0\] \(the first at row 11 of them\)"
        assert re.search(rf"column 'x4' has 1 null values {where}", result.stderr)
        assert not out.exists()
        return
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out).sort_by("id")
    model = dasklr.load_model(root / "model")
    good = np.setdiff1d(np.arange(300), [7, 11])
    expected = model.predict_proba(X[good])[:, 1]
    if mode == "drop":
        assert "2 rows with invalid features left out" in result.stdout
        np.testing.assert_array_equal(table.column("id").to_numpy(), good)
        np.testing.assert_allclose(table.column("proba_1").to_numpy(), expected, rtol=1e-14)
    else:
        assert table.num_rows == 300
        proba = table.column("proba_1")
        assert proba.null_count == 2 and table.column("prediction").null_count == 2
        assert not proba[7].is_valid and not proba[11].is_valid
        np.testing.assert_allclose(proba.to_numpy(zero_copy_only=False)[good], expected, rtol=1e-14)


def test_predict_keeps_hive_partition_columns(trained, tmp_path):
    """Rows under date=…/region=… folders: --keep date --keep region writes them as
    columns (text and integers, as the folder names hold them) beside each row's scores;
    a key that is neither a column nor a partition is named with what there is."""
    root, scheduler, (X_new, _) = trained
    data = tmp_path / "hive"
    layout = [("2026-12-01", 1), ("2026-12-01", 2), ("2026-12-02", 1)]
    for i, (day, region) in enumerate(layout):
        folder = data / f"date={day}" / f"region={region}"
        folder.mkdir(parents=True)
        rows = np.arange(i * 100, (i + 1) * 100)
        columns = {f"x{j}": X_new[rows, j] for j in range(X_new.shape[1])}
        pq.write_table(pa.table({**columns, "id": rows}), folder / "part-0.parquet")
    out = tmp_path / "scores"
    args = ["predict", str(root / "model"), str(data), "--output", str(out), "--quiet"]
    result = dasklr_cli(
        *args, "--keep", "id", "--keep", "date", "--keep", "region", scheduler=scheduler
    )
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out).sort_by("id")
    expected_day = np.repeat([day for day, _ in layout], 100)
    assert table.column("date").to_pylist() == expected_day.tolist()
    assert table.column("region").to_pylist() == np.repeat([1, 2, 1], 100).tolist()
    assert pa.types.is_integer(table.schema.field("region").type)
    proba = dasklr.load_model(root / "model").predict_proba(X_new[:300])[:, 1]
    np.testing.assert_allclose(table.column("proba_1").to_numpy(), proba, rtol=1e-14)
    missing = dasklr_cli(*args, "--overwrite", "--keep", "dates", scheduler=scheduler)
    assert missing.returncode == 3
    assert "column 'dates' is missing; did you mean 'date'?" in missing.stderr
    assert "partition keys: date, region" in missing.stderr
