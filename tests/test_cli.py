"""The dasklr command: configs, overrides, one-line errors, and saved models that load back."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dasklr
from dasklr.cli.config import load_config
from dasklr.cli.main import main
from dasklr.data.synthetic import make_classification, write_parquet_dataset


def _write_config(path, data_dir, model_dir, scheduler=None, extra=""):
    cluster = f'[cluster]\nscheduler = "{scheduler}"\n' if scheduler else ""
    path.write_text(
        f'[data]\npath = "{data_dir}"\nlabel = "y"\n\n'
        f"[model]\nalpha = 0.01\ntol = 1e-7\nmax_iter = 2000\n{extra}\n"
        f"{cluster}\n"
        f'[output]\npath = "{model_dir}"\n'
    )
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-data")
    X, y, _, _ = make_classification(2000, 5, seed=3)
    write_parquet_dataset(folder, X, y, n_files=2, row_group_rows=400)
    return folder, X, y


def test_train_writes_a_model_that_predicts_like_the_fitted_one(tmp_path, dataset, cluster, capsys):
    data_dir, X, _ = dataset
    config = _write_config(
        tmp_path / "c.toml", data_dir, tmp_path / "model", cluster.scheduler_address
    )
    assert main(["train", str(config)]) == 0
    out = capsys.readouterr().out
    assert "iter     0" in out and "converged after" in out  # one line per iteration

    model = dasklr.load_model(tmp_path / "model")
    # Reference: the same estimator fitted from Python on the same files and cluster.
    reference = dasklr.LogisticRegression(
        alpha=0.01, tol=1e-7, max_iter=2000, client=cluster.scheduler_address
    )
    reference.fit(dasklr.read_parquet(data_dir, label="y"))
    np.testing.assert_array_equal(model.predict_proba(X), reference.predict_proba(X))
    assert list(model.feature_names_in_) == [f"x{j}" for j in range(5)]
    assert model.converged_


def test_set_overrides_config_keys(tmp_path, dataset):
    data_dir, _, _ = dataset
    config = _write_config(tmp_path / "c.toml", data_dir, tmp_path / "m")
    loaded = load_config(config, ["model.alpha=0.5", "model.max_iter=7", "data.label=z"])
    assert loaded["model"]["alpha"] == 0.5
    assert loaded["model"]["max_iter"] == 7
    assert loaded["data"]["label"] == "z"  # bare words are taken as strings
    assert loaded["model"]["solver"] == "auto"  # defaults are filled in


@pytest.mark.parametrize(
    ("extra", "overrides", "message"),
    [
        ("alpa = 1.0", [], r"unknown key 'model.alpa'"),
        ('l1_ratio = "none"', [], r"key 'model.l1_ratio' must be a number, got str 'none'"),
        ("split_every = 1.5", [], r"key 'model.split_every' must be an integer, got float"),
        ('solver = "sgd"', [], r"key 'model.solver' must be one of \['auto'"),
        ("", ["model.alpha=-1"], r"key 'model.alpha' must be a number >= 0"),
        ("", ["nonsense"], r"--set 'nonsense': expected section.key=value"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(
    tmp_path, dataset, capsys, extra, overrides, message
):
    data_dir, _, _ = dataset
    config = _write_config(tmp_path / "c.toml", data_dir, tmp_path / "m", extra=extra)
    argv = ["train", str(config)] + [arg for item in overrides for arg in ("--set", item)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dasklr: error: ")
    assert str(config) in err or "--set" in err

    assert re.search(message, err), err
    assert not (tmp_path / "m").exists()


def test_missing_required_key_and_unknown_section(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[data]\nlabel = "y"\n[output]\npath = "m"\n')
    assert main(["train", str(config)]) == 2
    assert "missing required key 'data.path'" in capsys.readouterr().err
    config.write_text('[data]\npath = "d"\nlabel = "y"\n[outptu]\npath = "m"\n')
    assert main(["train", str(config)]) == 2
    assert "unknown section [outptu]" in capsys.readouterr().err


def test_existing_model_is_not_overwritten_without_flag(tmp_path, dataset, cluster, capsys):
    data_dir, _, _ = dataset
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "keep.txt").write_text("yesterday")
    config = _write_config(tmp_path / "c.toml", data_dir, model_dir, cluster.scheduler_address)
    assert main(["train", str(config)]) == 7  # output exists
    assert "already exists" in capsys.readouterr().err
    assert (model_dir / "keep.txt").read_text() == "yesterday"


def test_data_error_is_one_line_and_exit_code_3_in_a_real_process(tmp_path, dataset, cluster):
    data_dir, _, _ = dataset
    config = _write_config(tmp_path / "c.toml", data_dir, tmp_path / "m", cluster.scheduler_address)
    result = subprocess.run(
        [sys.executable, "-m", "dasklr", "train", str(config), "--set", "data.label=x1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    lines = [line for line in result.stderr.splitlines() if line.startswith("dasklr:")]
    assert len(lines) == 1
    assert "label column 'x1'" in lines[0] and "part-0000" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m").exists()


def test_missing_column_names_file_and_column(tmp_path, dataset, capsys):
    data_dir, _, _ = dataset
    config = _write_config(tmp_path / "c.toml", data_dir, tmp_path / "m")
    assert main(["train", str(config), "--set", "data.features=['x0', 'nope']"]) == 3
    err = capsys.readouterr().err
    assert "column 'nope' is missing" in err and "part-00000.parquet" in err


def test_help_documents_the_commands():
    result = subprocess.run(
        [sys.executable, "-m", "dasklr", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "train" in result.stdout and "quickstart" in result.stdout


def test_the_cli_reference_documents_every_config_key():
    from dasklr.cli.config import reference_table

    reference = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    assert reference_table() in reference


def test_unreachable_scheduler_names_address_and_key(tmp_path, dataset, capsys):
    data_dir, _, _ = dataset
    # port 9 (discard) has no listener on this machine: connection refused until the timeout
    config = _write_config(tmp_path / "c.toml", data_dir, tmp_path / "m", "tcp://127.0.0.1:9")
    assert main(["train", str(config)]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "tcp://127.0.0.1:9" in err and f"cluster.scheduler in {config}" in err
    assert not (tmp_path / "m").exists()


def test_not_converged_is_one_warning_line_and_the_model_is_still_written(
    tmp_path, dataset, cluster, capsys
):
    data_dir, _, _ = dataset
    config = _write_config(tmp_path / "c.toml", data_dir, tmp_path / "m", cluster.scheduler_address)
    with pytest.warns(dasklr.ConvergenceWarning):
        assert main(["train", str(config), "--set", "model.max_iter=2", "--quiet"]) == 0
    assert "NOT converged after 2 iterations" in capsys.readouterr().out
    assert dasklr.load_model(tmp_path / "m").converged_ is False


def test_quickstart_in_a_real_process(tmp_path):
    # the console script pip installed beside this interpreter, with its embedded cluster
    script = Path(sys.executable).parent / "dasklr"
    result = subprocess.run(
        [str(script), "quickstart", "--dir", str(tmp_path / "qs"), "--rows", "5000"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "converged after" in result.stdout
    model = dasklr.load_model(tmp_path / "qs" / "model")
    assert model.converged_ and model.n_features_in_ == 16


def test_class_weight_config_values(tmp_path, dataset):
    data_dir, _, _ = dataset
    config = _write_config(tmp_path / "c.toml", data_dir, tmp_path / "m")
    # TOML keys are strings; the estimator matches them to the classes by their text
    loaded = load_config(config, ["model.class_weight={0 = 1, 1 = 2.5}"])
    assert loaded["model"]["class_weight"] == {"0": 1.0, "1": 2.5}
    assert load_config(config, ["model.class_weight=balanced"])["model"]["class_weight"] == (
        "balanced"
    )
    with pytest.raises(dasklr.ConfigError, match=r"model\.class_weight.*finite weights > 0"):
        load_config(config, ["model.class_weight={0 = -1}"])
    assert load_config(config, ["data.classes=['a', 'b']"])["data"]["classes"] == ["a", "b"]
    with pytest.raises(dasklr.ConfigError, match=r"data\.classes.*label list"):
        load_config(config, ["data.classes=[1, 'b']"])


def test_train_multinomial_with_string_labels_and_class_weights(tmp_path, cluster, capsys):
    """Three string classes through the config; the reference is the same fit from Python."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(900, 3))
    names = np.array(["ant", "bee", "cat"])[np.argmax(X @ rng.normal(size=(3, 3)), axis=1)]
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(3):
        rows = slice(300 * i, 300 * (i + 1))
        columns = {f"x{j}": X[rows, j] for j in range(3)} | {"y": names[rows]}
        pq.write_table(pa.table(columns), folder / f"part-{i}.parquet", row_group_size=100)
    config = _write_config(
        tmp_path / "c.toml",
        folder,
        tmp_path / "model",
        cluster.scheduler_address,
        extra="class_weight = { bee = 2.0 }",
    )
    assert main(["train", str(config)]) == 0
    assert "3 classes" in capsys.readouterr().out
    model = dasklr.load_model(tmp_path / "model")
    assert model.classes_.tolist() == ["ant", "bee", "cat"] and model.coef_.shape == (3, 3)
    reference = dasklr.LogisticRegression(
        alpha=0.01,
        tol=1e-7,
        max_iter=2000,
        class_weight={"bee": 2.0},
        client=cluster.scheduler_address,
    ).fit(X, names)
    # same data in another order of rows and chunks: equal up to rounding
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X), atol=1e-10)
    assert model.class_weight == {"bee": 2.0}


def test_config_check_validates_without_data_or_cluster(tmp_path):
    config = _write_config(tmp_path / "c.toml", tmp_path / "no-such-data", tmp_path / "m")
    ok = subprocess.run(
        [sys.executable, "-m", "dasklr", "config", "check", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and "c.toml: ok" in ok.stdout  # no data read: none exists
    bad = subprocess.run(
        [sys.executable, "-m", "dasklr", "config", "check", str(config), "--set", "model.tol=-1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "key 'model.tol'" in bad.stderr


@pytest.mark.parametrize(
    "name", ["quickstart.toml", "out_of_core.toml", "nightly.toml", "cluster.toml"]
)
def test_shipped_configs_are_valid(name):
    load_config(Path(__file__).parents[1] / "configs" / name)


def test_a_config_path_that_is_a_folder_or_missing_is_one_line(tmp_path, capsys):
    assert main(["train", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"dasklr: error: {tmp_path}: is a directory, not a config file"
    )
    assert main(["train", str(tmp_path / "none.toml")]) == 2
    assert "no such config file" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["inside the data", "under a file"])
def test_an_output_that_cannot_be_written_is_refused_before_training(
    tmp_path, dataset, capsys, where
):
    data_dir = dataset[0]
    folder = tmp_path / "out"
    folder.mkdir()
    if where == "inside the data":
        model_dir = data_dir / "model"
    else:
        (folder / "file").write_text("")
        model_dir = folder / "file" / "model"
    config = tmp_path / "c.toml"
    _write_config(config, data_dir, model_dir)
    assert main(["train", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"output.path {model_dir} cannot be written" in err
    assert "data:" not in capsys.readouterr().out  # refused before the footers were read
    assert not model_dir.exists()


@pytest.mark.parametrize("problem", ["validation", "init model", "report folder", "matplotlib"])
def test_train_checks_everything_before_the_first_pass(
    tmp_path, dataset, capsys, monkeypatch, problem
):
    """A wrong validation path, a missing init model, a report that cannot be written or
    drawn: one line and exit code 2 or 3 before any pass (no cluster is started: no
    scheduler is configured), and nothing is left behind: no model, no checkpoint."""
    data_dir = dataset[0]
    model_dir = tmp_path / "model"
    args = ["train", "--quiet"]
    config = _write_config(tmp_path / "c.toml", data_dir, model_dir)
    text = config.read_text().replace("[output]\n", "[output]\ncheckpoint_every = 1\n")
    if problem == "validation":
        text = text.replace('label = "y"\n', f'label = "y"\nvalidation = "{tmp_path}/none"\n')
    if problem == "init model":
        args += ["--init-model", str(tmp_path / "yesterday")]
    if problem == "report folder":
        (tmp_path / "file").write_text("")
        args += ["--report", str(tmp_path / "file" / "report")]
    if problem == "matplotlib":
        monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
        args += ["--report", str(tmp_path / "report")]
    config.write_text(text)
    code = main([*args[:1], str(config), *args[1:]])
    err = capsys.readouterr().err.strip()
    expected = {
        "validation": (3, "no such file or directory"),
        "init model": (2, "is not a model folder"),
        "report folder": (2, "is a file, not a folder"),
        "matplotlib": (2, "reports need matplotlib"),
    }[problem]
    assert (code, err.count("\n")) == (expected[0], 0), err
    assert expected[1] in err
    assert not model_dir.exists() and not Path(f"{model_dir}.checkpoint").exists()
    assert not (tmp_path / "report").exists()


def test_exit_codes_tell_usage_from_config_errors_and_a_closed_pipe_is_quiet(
    tmp_path, dataset, cluster, capsys
):
    """A wrong argument is 64 (usage), a wrong key 2 (config) with a suggestion; `info
    --json | head -1` ends quietly, exit code 0, no traceback."""
    data_dir = dataset[0]
    config = _write_config(tmp_path / "c.toml", data_dir, tmp_path / "m", cluster.scheduler_address)
    with pytest.raises(SystemExit) as usage:
        main(["train", str(config), "--no-such-flag"])
    assert usage.value.code == 64
    assert main(["train", str(config), "--set", "model.aplha=1"]) == 2
    assert "unknown key 'model.aplha'; did you mean 'model.alpha'?" in capsys.readouterr().err
    assert main(["train", str(config), "--quiet", "--scheduler", cluster.scheduler_address]) == 0
    out = capsys.readouterr().out
    assert f"features: {', '.join(f'x{j}' for j in range(5))}" in out
    shell = f"{sys.executable} -m dasklr info {tmp_path / 'm'} --json | head -c 10"
    piped = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == "" and piped.stdout == '{\n  "forma'[:10]


def test_fail_on_nonconvergence_exits_8_without_a_model_and_keeps_the_checkpoint(
    tmp_path, dataset, cluster, capsys
):
    data_dir = dataset[0]
    model_dir = tmp_path / "m"
    config = _write_config(
        tmp_path / "c.toml", data_dir, model_dir, cluster.scheduler_address, extra="solver = 'gd'"
    )
    text = config.read_text().replace("max_iter = 2000", "max_iter = 3")
    config.write_text(text.replace("[output]\n", "[output]\ncheckpoint_every = 1\n"))
    with pytest.warns(dasklr.ConvergenceWarning):
        code = main(["train", str(config), "--quiet", "--fail-on-nonconvergence"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 8, err
    assert err.startswith("dasklr: error: the fit stopped before tol after 3 iterations")
    assert f"no model written to {model_dir}" in err
    assert not model_dir.exists() and Path(f"{model_dir}.checkpoint").is_dir()
    # without the flag the same fit writes its model and exits 0 (with a warning)
    with pytest.warns(dasklr.ConvergenceWarning):
        assert main(["train", str(config), "--quiet"]) == 0
    assert dasklr.load_model(model_dir).n_iter_ == 3


def test_quickstart_help_shows_its_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["quickstart", "--help"])
    assert "(default: 200000)" in capsys.readouterr().out


def test_url_outputs_without_their_filesystem_are_refused_before_any_work(
    tmp_path, dataset, cluster, capsys
):
    """An s3:// output.path once trained and wrote a local './s3:' folder; a URL whose
    filesystem is not installed (gs:// without gcsfs) is one line before the footers are
    read. file:// outputs are local paths. (URLs that can be written: test_remote.py.)"""
    pytest.importorskip("s3fs")  # the extra that installs it must not install gcsfs
    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed: gs:// can be written")
    data_dir = dataset[0]
    config = _write_config(tmp_path / "c.toml", data_dir, "gs://bucket/models/churn")
    assert main(["train", str(config), "--quiet"]) == 2
    err = capsys.readouterr()
    assert "output.path gs://bucket/models/churn: its filesystem is not installed" in err.err
    assert "install gcsfs" in err.err
    assert "data:" not in err.out and not (Path.cwd() / "gs:").exists()
    local = tmp_path / "model"
    config = _write_config(
        tmp_path / "c.toml", data_dir, f"file://{local}", cluster.scheduler_address
    )
    assert main(["train", str(config), "--quiet"]) == 0
    model = dasklr.load_model(local)
    with pytest.raises(dasklr.ConfigError, match="gcsfs"):
        model.save("gs://bucket/elsewhere")
    assert main(["predict", str(local), str(data_dir), "--output", "gs://b/scores"]) == 2
    assert (
        main(
            [
                "predict",
                str(local),
                str(data_dir),
                "--output",
                f"file://{tmp_path / 's'}",
                "--scheduler",
                cluster.scheduler_address,
                "--quiet",
            ]
        )
        == 0
    )
    assert (tmp_path / "s" / "_manifest.json").exists()
