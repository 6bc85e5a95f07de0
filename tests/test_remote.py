"""Outputs at URLs: models, checkpoints, predictions and ONNX graphs written to a real
S3-compatible server (moto's server mode, started here as its own process) through s3fs.

References: the model saved to disk / fitted in memory (same coefficients, bit for bit,
and the same probabilities), and the state of the bucket listed through s3fs.
"""

import hashlib
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pyarrow.parquet as pq
import pytest

import dasklr
from dasklr.cli.main import main
from dasklr.data.synthetic import make_classification, write_parquet_dataset
from dasklr.estimators.scoring import predict_to_parquet

s3fs = pytest.importorskip("s3fs")
pytest.importorskip("moto")

KEYS = {"key": "testing", "secret": "testing"}


@pytest.fixture(scope="module")
def endpoint():
    """moto's S3 server on a free port of 127.0.0.1, in a process of its own."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        server.kill()
        pytest.fail("moto's server did not start")
    yield url
    server.kill()
    server.wait()


@pytest.fixture(scope="module")
def options(endpoint):
    return {
        **KEYS,
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "eu-west-1"},
        "skip_instance_cache": True,
    }


@pytest.fixture
def bucket(options, request):
    """A fresh bucket per test, and an s3fs filesystem to look into it."""
    fs = s3fs.S3FileSystem(**options)
    name = f"b{abs(hash(request.node.name)) % 10**10}"
    fs.mkdir(name)
    return name, fs


@pytest.fixture
def aws_env(endpoint, monkeypatch):
    """The server as the default S3 endpoint: how the command line finds its credentials."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)


def _fit(seed: int, rows: int = 400):
    X, y, _, _ = make_classification(rows, 4, seed=seed)
    return dasklr.LogisticRegression(alpha=0.01, tol=1e-8).fit(X, y), X


def _names(fs, prefix: str) -> list[str]:
    fs.invalidate_cache()
    return sorted(p.rsplit("/", 1)[-1] for p in fs.find(prefix))


def test_a_model_round_trips_through_s3_with_the_metadata_written_last(tmp_path, bucket, options):
    name, fs = bucket
    model, X = _fit(1)
    url = f"s3://{name}/models/churn"
    model.save(url, storage_options=options)
    model.save(tmp_path / "local")
    loaded = dasklr.load_model(url, storage_options=options)
    reference = dasklr.load_model(tmp_path / "local")
    np.testing.assert_array_equal(loaded.coef_, reference.coef_)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # the arrays carry (the start of) their sha256 in their names; metadata.json names them
    files = _names(fs, f"{name}/models/churn")
    text = fs.cat_file(f"{name}/models/churn/metadata.json").decode()
    arrays = [f for f in files if f != "metadata.json"]
    assert len(arrays) == len(files) - 1 >= 2
    for file in arrays:
        digest = hashlib.sha256(fs.cat_file(f"{name}/models/churn/{file}")).hexdigest()
        assert file.endswith(f"-{digest[:16]}.npy") and f'"file": "{file}"' in text

    with pytest.raises(FileExistsError, match="already exists"):
        model.save(url, storage_options=options)
    other, _ = _fit(2)
    other.save(url, overwrite=True, storage_options=options)
    np.testing.assert_array_equal(
        dasklr.load_model(url, storage_options=options).coef_, other.coef_
    )
    assert len(_names(fs, f"{name}/models/churn")) == len(files)  # the old arrays are gone


def test_a_writer_killed_before_its_marker_leaves_the_old_model(bucket, options):
    """What a writer killed between its arrays and its metadata leaves: new arrays beside
    the old model. Readers still load the old model; the next save removes them."""
    name, fs = bucket
    model, X = _fit(3)
    url = f"s3://{name}/m"
    model.save(url, storage_options=options)
    fs.pipe_file(f"{name}/m/coef-00000000deadbeef.npy", b"\x93NUMPY half an upload")
    loaded = dasklr.load_model(url, storage_options=options)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    model.save(url, overwrite=True, storage_options=options)
    assert "coef-00000000deadbeef.npy" not in _names(fs, f"{name}/m")


def test_readers_never_mix_two_versions_while_a_writer_overwrites(bucket, options):
    """One thread saves models A and B in turn over one URL; every load in between gives
    exactly A's or exactly B's coefficients (a mix would fail the sha256 check or match
    neither)."""
    name, _ = bucket
    (a, _), (b, _) = _fit(4), _fit(5)
    url = f"s3://{name}/race"
    a.save(url, storage_options=options)
    stop = threading.Event()

    def overwrite():
        for k in range(12):
            (b if k % 2 == 0 else a).save(url, overwrite=True, storage_options=options)
        stop.set()

    writer = threading.Thread(target=overwrite)
    writer.start()
    seen = set()
    while not stop.is_set():
        coef = dasklr.load_model(url, storage_options=options).coef_
        assert np.array_equal(coef, a.coef_) or np.array_equal(coef, b.coef_)
        seen.add(np.array_equal(coef, a.coef_))
    writer.join()
    assert seen  # at least one load ran during the overwrites


def test_predictions_go_to_s3_through_a_temporary_prefix(tmp_path, bucket, options, cluster):
    """The workers write the parts (the s3fs filesystem travels to them with its
    options); the folder appears with its manifest, no temporary prefix is left."""
    name, fs = bucket
    X, y, _, _ = make_classification(3000, 4, seed=6)
    write_parquet_dataset(tmp_path / "data", X, y, n_files=3, row_group_rows=500)
    model = dasklr.LogisticRegression(alpha=0.01, client=cluster.scheduler_address)
    model.fit(dasklr.read_parquet(tmp_path / "data", label="y"))
    url = f"s3://{name}/scores"
    rows, invalid = predict_to_parquet(
        model,
        str(tmp_path / "data"),
        url,
        client=cluster.scheduler_address,
        storage_options=options,
        part_rows=1000,
    )
    assert (rows, invalid) == (3000, 0)
    assert "_manifest.json" in _names(fs, f"{name}/scores")
    assert not [p for p in fs.ls(name) if ".tmp-" in p]
    manifest = json.loads(fs.cat_file(f"{name}/scores/_manifest.json"))
    parts = sorted(fs.glob(f"{name}/scores/part-*.parquet"))
    assert [p.rsplit("/", 1)[-1] for p in parts] == [e["file"] for e in manifest["parts"]]
    table = pq.read_table(parts, filesystem=fs)
    expected = model.predict_proba(pq.read_table(tmp_path / "data").drop(["y"]).to_pandas())
    np.testing.assert_allclose(table["proba_1"].to_numpy(), expected[:, 1], rtol=0, atol=1e-15)

    with pytest.raises(FileExistsError):
        predict_to_parquet(model, str(tmp_path / "data"), url, storage_options=options)
    predict_to_parquet(
        model,
        str(tmp_path / "data"),
        url,
        client=cluster.scheduler_address,
        storage_options=options,
        overwrite=True,
    )
    fs.invalidate_cache()
    manifest = json.loads(fs.cat_file(f"{name}/scores/_manifest.json"))
    assert _names(fs, f"{name}/scores") == sorted(
        ["_manifest.json", *(e["file"] for e in manifest["parts"])]
    )


@pytest.mark.slow
def test_a_killed_train_resumes_from_its_s3_checkpoint_to_the_uninterrupted_result(
    tmp_path, bucket, options, cluster, aws_env, capsys
):
    """`dasklr train` with credentials from the environment, SIGKILLed once its
    checkpoint in the bucket is a few iterations in; --resume continues from it and the
    model equals the uninterrupted fit's bit for bit; the checkpoint is then removed."""
    name, fs = bucket
    X, y, _, _ = make_classification(2000, 4, seed=7)
    write_parquet_dataset(tmp_path / "data", X, y, n_files=2, row_group_rows=500)

    def config(path: str) -> str:
        file = tmp_path / f"{abs(hash(path))}.toml"
        file.write_text(
            f'[data]\npath = "{tmp_path / "data"}"\nlabel = "y"\n'
            '[model]\nalpha = 0.0001\ntol = 1e-10\nmax_iter = 300\nsolver = "gd"\n'
            f'[cluster]\nscheduler = "{cluster.scheduler_address}"\n'
            f'[output]\npath = "{path}"\ncheckpoint_every = 1\nmetrics = false\n'
        )
        return str(file)

    assert main(["train", "--quiet", config(str(tmp_path / "uninterrupted"))]) == 0
    expected = dasklr.load_model(tmp_path / "uninterrupted")

    remote = config(f"s3://{name}/model")
    process = subprocess.Popen(
        [sys.executable, "-m", "dasklr", "train", remote, "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker = f"{name}/model.checkpoint/checkpoint.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        fs.invalidate_cache()
        if fs.exists(marker) and json.loads(fs.cat_file(marker))["state"]["iteration"] >= 3:
            break
        time.sleep(0.05)
    process.kill()  # SIGKILL: no cleanup runs
    process.wait()
    killed_at = json.loads(fs.cat_file(marker))["state"]["iteration"]
    assert 3 <= killed_at < expected.n_iter_ and not fs.exists(f"{name}/model")

    assert main(["train", "--quiet", "--resume", remote]) == 0
    assert f"resuming from s3://{name}/model.checkpoint at iteration" in capsys.readouterr().out
    fs.invalidate_cache()
    assert not fs.exists(f"{name}/model.checkpoint")
    resumed = dasklr.load_model(f"s3://{name}/model", storage_options=options)
    np.testing.assert_array_equal(resumed.coef_, expected.coef_)
    np.testing.assert_array_equal(resumed.intercept_, expected.intercept_)
    assert resumed.n_iter_ == expected.n_iter_

    # export to the bucket too, from the model there
    assert main(["export", f"s3://{name}/model", "--output", f"s3://{name}/model.onnx"]) == 0
    graph = fs.cat_file(f"{name}/model.onnx")
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        _, proba = onnxruntime.InferenceSession(graph).run(None, {"X": X})
        np.testing.assert_allclose(proba, expected.predict_proba(X), rtol=0, atol=1e-12)


def test_a_missing_bucket_is_refused_before_any_work(tmp_path, aws_env, capsys):
    X, y, _, _ = make_classification(200, 2, seed=9)
    write_parquet_dataset(tmp_path / "data", X, y, n_files=1)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{tmp_path / "data"}"\nlabel = "y"\n'
        '[output]\npath = "s3://no-such-bucket/model"\n'
    )
    assert main(["train", "--quiet", str(config)]) == 2
    out, err = capsys.readouterr()
    assert "output.path s3://no-such-bucket/model cannot be written" in err
    assert "no-such-bucket does not exist" in err and "data:" not in out
