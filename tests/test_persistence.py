"""Model artifacts: JSON metadata plus .npy arrays, written atomically, checked on load."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import dasklr
from dasklr import ModelFormatError
from dasklr.artifacts import metadata_checksum
from dasklr.data.synthetic import write_parquet_dataset


def make_data(n=300, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-(X @ np.linspace(1, -1, d))))).astype(float)
    return X, y


@pytest.fixture(scope="module")
def models(client, tmp_path_factory):
    """Two different fitted models: one on Parquet (with feature names), one on arrays."""
    X, y = make_data()
    path = tmp_path_factory.mktemp("data")
    write_parquet_dataset(path, X, y, row_group_rows=100)
    named = dasklr.LogisticRegression(alpha=0.1, tol=1e-6, max_iter=300, client=client)
    named.fit(dasklr.read_parquet(str(path), label="y"))
    plain = dasklr.LogisticRegression(
        alpha=1.0, tol=1e-6, max_iter=300, fit_intercept=False, client=client
    )
    plain.fit(X, y)
    return named, plain, X


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


def test_round_trip_predicts_the_same(models, tmp_path):
    named, _, X = models
    named.save(tmp_path / "model")
    loaded = dasklr.load_model(tmp_path / "model")
    assert type(loaded) is dasklr.LogisticRegression
    # the arrays are stored as float64 .npy: predictions are bit-identical
    np.testing.assert_array_equal(loaded.predict_proba(X), named.predict_proba(X))
    np.testing.assert_array_equal(loaded.coef_, named.coef_)
    np.testing.assert_array_equal(loaded.intercept_, named.intercept_)
    assert loaded.feature_names_in_.tolist() == ["x0", "x1", "x2"]
    assert loaded.classes_.tolist() == [0, 1]
    assert (loaded.n_features_in_, loaded.n_iter_, loaded.n_passes_, loaded.converged_) == (
        named.n_features_in_,
        named.n_iter_,
        named.n_passes_,
        named.converged_,
    )
    assert loaded.history_ == named.history_  # JSON keeps float64 values exactly
    params = named.get_params()
    params["client"] = None  # where it ran is not part of the model
    assert loaded.get_params() == params
    assert leftovers(tmp_path) == []


def test_artifact_is_json_and_plain_arrays(models, tmp_path):
    named, _, _ = models
    named.save(tmp_path / "model")
    root = tmp_path / "model"
    # the covariance of Newton's last Hessian rides along for summary() after loading
    expected = ["coef.npy", "covariance-0.npy", "intercept.npy", "metadata.json"]
    assert sorted(p.name for p in root.iterdir()) == expected
    metadata = json.loads((root / "metadata.json").read_text())
    assert list(metadata["inference"]["covariances"]) == ["nonrobust"]
    assert metadata["format"] == "dasklr-model" and metadata["format_version"] == 1
    assert metadata["feature_names_in"] == ["x0", "x1", "x2"]
    for name, shape in [("coef", [1, 3]), ("intercept", [1])]:
        entry = metadata["arrays"][name]
        assert entry == {**entry, "file": f"{name}.npy", "shape": shape, "dtype": "float64"}
        array = np.load(root / entry["file"], allow_pickle=False)  # no pickle needed
        assert array.dtype == np.float64 and list(array.shape) == shape
    np.testing.assert_array_equal(np.load(root / "coef.npy", allow_pickle=False), named.coef_)
    # plain .npy files of little-endian float64, not object arrays (which would be pickles)
    for name in ("coef.npy", "intercept.npy", "covariance-0.npy"):
        raw = (root / name).read_bytes()
        assert raw.startswith(b"\x93NUMPY") and b"'descr': '<f8'" in raw[:128]


def test_model_without_feature_names(models, tmp_path):
    _, plain, X = models
    plain.save(tmp_path / "plain")
    loaded = dasklr.load_model(str(tmp_path / "plain"))
    assert not hasattr(loaded, "feature_names_in_")
    assert loaded.fit_intercept is False and loaded.intercept_.tolist() == [0.0]
    np.testing.assert_array_equal(loaded.predict_proba(X), plain.predict_proba(X))


def test_existing_path_needs_overwrite(models, tmp_path):
    named, plain, X = models
    target = tmp_path / "model"
    named.save(target)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        plain.save(target)
    # the old model is intact
    np.testing.assert_array_equal(
        dasklr.load_model(target).predict_proba(X), named.predict_proba(X)
    )
    plain.save(target, overwrite=True)
    np.testing.assert_array_equal(
        dasklr.load_model(target).predict_proba(X), plain.predict_proba(X)
    )
    assert dasklr.load_model(target).alpha == 1.0
    assert leftovers(tmp_path) == []  # neither the staging nor the retired directory remains


def test_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        dasklr.LogisticRegression().save(tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_altered_array_is_refused(models, tmp_path):
    named, _, _ = models
    named.save(tmp_path / "model")
    coef = tmp_path / "model" / "coef.npy"
    data = bytearray(coef.read_bytes())
    data[-1] ^= 0x01  # flip one bit of the last coefficient
    coef.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match=r"coef\.npy: sha256 differs"):
        dasklr.load_model(tmp_path / "model")


def test_missing_array_is_refused(models, tmp_path):
    named, _, _ = models
    named.save(tmp_path / "model")
    (tmp_path / "model" / "intercept.npy").unlink()
    with pytest.raises(ModelFormatError, match=r"intercept\.npy: missing"):
        dasklr.load_model(tmp_path / "model")


def rewrite_metadata(root, **changes):
    path = root / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata.update(changes)
    path.write_text(json.dumps(metadata))


def test_a_model_file_from_before_the_penalty_options_still_loads(models, tmp_path):
    """Model files written before penalty_factor, prior_model/strength, bounds and offset
    existed have none of those parameters: they load with the defaults and predict the
    same, and refit (warm start) as before."""
    named, _, X = models
    named.save(tmp_path / "model")
    path = tmp_path / "model" / "metadata.json"
    metadata = json.loads(path.read_text())
    new = ("penalty_factor", "prior_model", "prior_strength", "bounds", "offset")
    metadata["params"] = {k: v for k, v in metadata["params"].items() if k not in new}
    del metadata["levels"], metadata["formula"]  # nor categorical columns and formulas
    metadata["checksum"] = metadata_checksum(metadata)  # as the older writer sealed it
    path.write_text(json.dumps(metadata))
    loaded = dasklr.load_model(tmp_path / "model")
    assert (loaded.penalty_factor, loaded.prior_model, loaded.bounds, loaded.offset) == (
        None,
        None,
        None,
        None,
    )
    assert loaded.prior_strength == 0.0
    assert loaded.levels_ == () and loaded.formula_ is None
    np.testing.assert_array_equal(loaded.predict_proba(X), named.predict_proba(X))
    assert loaded.fit_options() == named.fit_options()


def test_unknown_format_version_is_refused(models, tmp_path):
    named, _, _ = models
    named.save(tmp_path / "model")
    rewrite_metadata(tmp_path / "model", format_version=99)
    with pytest.raises(ModelFormatError, match=r"metadata\.json: format version 99"):
        dasklr.load_model(tmp_path / "model")


def test_other_formats_are_refused(models, tmp_path):
    named, _, _ = models
    with pytest.raises(ModelFormatError, match=r"nothing: no such directory"):
        dasklr.load_model(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFormatError, match=r"metadata\.json: no such file; is .* a dasklr"):
        dasklr.load_model(tmp_path / "empty")
    named.save(tmp_path / "model")
    rewrite_metadata(tmp_path / "model", format="sklearn-pickle")
    with pytest.raises(ModelFormatError, match="not a dasklr model"):
        dasklr.load_model(tmp_path / "model")
    (tmp_path / "model" / "metadata.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        dasklr.load_model(tmp_path / "model")


def test_array_file_outside_the_model_is_refused(models, tmp_path):
    named, _, _ = models
    named.save(tmp_path / "model")
    metadata = json.loads((tmp_path / "model" / "metadata.json").read_text())
    metadata["arrays"]["coef"]["file"] = "../coef.npy"
    metadata["checksum"] = metadata_checksum(metadata)  # as a forger would
    (tmp_path / "model" / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelFormatError, match="is outside"):
        dasklr.load_model(tmp_path / "model")


SAVE_ON_REQUEST = """
import sys
import dasklr
model = dasklr.load_model(sys.argv[1])
overwrite = sys.argv[2] == "overwrite"
print("ready", flush=True)
for line in sys.stdin:
    try:
        model.save(line.strip(), overwrite=overwrite)
        print("saved", flush=True)
    except FileExistsError as exc:
        print("refused", str(exc).replace(chr(10), " "), flush=True)
"""


def start_saver(model_dir, mode):
    process = subprocess.Popen(
        [sys.executable, "-c", SAVE_ON_REQUEST, str(model_dir), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    return process


@pytest.fixture(scope="module")
def saved_pair(models, tmp_path_factory):
    """The two models saved, and their coefficients (which differ)."""
    named, plain, _ = models
    root = tmp_path_factory.mktemp("pair")
    named.save(root / "a")
    plain.save(root / "b")
    return root / "a", root / "b", {named.coef_.tobytes(): "a", plain.coef_.tobytes(): "b"}


def test_two_processes_saving_to_a_free_path_exactly_one_wins(saved_pair, tmp_path):
    """200 rounds of two processes told to save, at the same instant, to the same new path
    without overwrite: one is refused every time, and the path holds the winner's model."""
    a, b, names = saved_pair
    savers = {"a": start_saver(a, "no"), "b": start_saver(b, "no")}
    wins = {"a": 0, "b": 0}
    try:
        for round_ in range(200):
            target = tmp_path / f"model-{round_}"
            for process in savers.values():
                process.stdin.write(f"{target}\n")
            for process in savers.values():
                process.stdin.flush()
            answers = {name: p.stdout.readline().split()[0] for name, p in savers.items()}
            assert sorted(answers.values()) == ["refused", "saved"], (round_, answers)
            winner = next(name for name, answer in answers.items() if answer == "saved")
            assert names[dasklr.load_model(target).coef_.tobytes()] == winner
            wins[winner] += 1
    finally:
        for process in savers.values():
            process.stdin.close()
            process.wait(timeout=30)
    print(f"wins in 200 rounds: {wins}")
    assert leftovers(tmp_path) == []


def test_readers_never_see_a_mix_while_two_processes_overwrite(saved_pair, tmp_path):
    """Two processes replace one model 150 times each while this one loads it again and
    again: every load gives one of the two models whole, and no load fails."""
    a, b, names = saved_pair
    target = tmp_path / "model"
    dasklr.load_model(a).save(target)
    savers = [start_saver(a, "overwrite"), start_saver(b, "overwrite")]
    for process in savers:
        process.stdin.write(f"{target}\n" * 150)
        process.stdin.close()
    seen = {"a": 0, "b": 0}
    while any(process.poll() is None for process in savers):
        seen[names[dasklr.load_model(target).coef_.tobytes()]] += 1
    assert all(process.wait() == 0 for process in savers)
    print(f"loads during the overwrites: {seen}")
    assert sum(seen.values()) > 20
    assert leftovers(tmp_path) == []


def test_a_deleted_model_stays_deleted(saved_pair, tmp_path):
    """What killed writers leave beside a model is never put back in its place."""
    a, _, _ = saved_pair
    target = tmp_path / "model"
    dasklr.load_model(a).save(target)
    shutil.copytree(target, tmp_path / ".model.old-deadbeef")  # as dasklr < 0.2 left them
    shutil.copytree(target, tmp_path / ".model.tmp-0123456789ab")
    shutil.rmtree(target)
    with pytest.raises(ModelFormatError, match="no such directory"):
        dasklr.load_model(target)
    assert not target.exists()
    dasklr.load_model(a).save(target)  # the next writer clears them away
    assert leftovers(tmp_path) == []
