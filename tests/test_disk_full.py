"""A disk that fills up: the model, a checkpoint, predictions and the disk cache each end
in one line naming the folder (StorageError, exit code 6), with nothing half-written left
and nothing replaced. The disk is a small tmpfs mounted for the test."""

import errno
import subprocess
import sys

import numpy as np
import pytest

import dasklr
from dasklr.data.synthetic import make_classification, write_parquet_dataset


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs at tmp_path/disk (mounting needs root, as on the CI machines)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs for the disk-full tests: {mounted.stderr}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder):
    """Write zeros into ``folder`` until the disk refuses more."""
    with open(folder / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def everything_but_the_filler(folder):
    return sorted(p.name for p in folder.iterdir() if p.name != "filler")


@pytest.fixture(scope="module")
def parquet_data(tmp_path_factory):
    X, y, _, _ = make_classification(40_000, 8, seed=12)  # ~3 MB decoded
    folder = tmp_path_factory.mktemp("full-data")
    write_parquet_dataset(folder, X, y, n_files=4, row_group_rows=2500)
    return folder


@pytest.fixture(scope="module")
def model(client, parquet_data):
    return dasklr.LogisticRegression(alpha=1e-3, client=client).fit(
        dasklr.read_parquet(str(parquet_data), label="y")
    )


def test_saving_a_model_to_a_full_disk(model, small_disk):
    model.save(small_disk / "model")
    before = dasklr.load_model(small_disk / "model").coef_
    fill(small_disk)
    with pytest.raises(dasklr.StorageError, match=rf"no space left in {small_disk} to write"):
        model.save(small_disk / "other")
    with pytest.raises(dasklr.StorageError, match="nothing was replaced"):
        model.save(small_disk / "model", overwrite=True)
    assert everything_but_the_filler(small_disk) == ["model"]
    np.testing.assert_array_equal(dasklr.load_model(small_disk / "model").coef_, before)


def test_the_disk_cache_filling_up_names_its_folder_and_leaves_nothing(
    client, parquet_data, small_disk
):
    estimator = dasklr.LogisticRegression(cache="disk", cache_dir=str(small_disk), client=client)
    with pytest.raises(dasklr.StorageError, match=rf"disk cache folder {small_disk}/\S+ is full"):
        estimator.fit(dasklr.read_parquet(str(parquet_data), label="y"))
    assert list(small_disk.rglob("*")) == []  # no chunk files, no .tmp, no folder


def run_cli(*args, scheduler):
    return subprocess.run(
        [sys.executable, "-m", "dasklr", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={"DASKLR_SCHEDULER": scheduler, "PATH": "/usr/bin:/bin"},
    )


def test_predictions_and_checkpoints_on_a_full_disk_are_exit_6(
    cluster, model, parquet_data, small_disk, tmp_path
):
    model.save(tmp_path / "model")
    fill(small_disk)
    predicted = run_cli(
        "predict",
        str(tmp_path / "model"),
        str(parquet_data),
        "--output",
        str(small_disk / "scores"),
        "--quiet",
        scheduler=cluster.scheduler_address,
    )
    assert predicted.returncode == 6, predicted.stderr
    [line] = predicted.stderr.strip().splitlines()
    assert line.startswith(f"dasklr: error: no space left in {small_disk} to write scores")
    assert line.endswith("nothing was replaced")
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{parquet_data}"\nlabel = "y"\n\n[model]\nalpha = 0.001\n\n'
        f'[output]\npath = "{tmp_path / "trained"}"\ncheckpoint_every = 1\n'
        f'checkpoint_path = "{small_disk / "ckpt"}"\n'
    )
    trained = run_cli("train", str(config), "--quiet", scheduler=cluster.scheduler_address)
    assert trained.returncode == 6, trained.stderr
    assert f"no space left in {small_disk} to write ckpt" in trained.stderr
    assert "Traceback" not in trained.stderr
    assert everything_but_the_filler(small_disk) == []
    assert not (tmp_path / "trained").exists()
