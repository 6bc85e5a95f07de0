"""Safe writes on a real filesystem: publishing with and without overwrite (renameat2 and
the fallback without it), leftovers of dead writers, and readers of one version."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from dasklr import artifacts
from dasklr.artifacts import (
    atomic_directory,
    read_snapshot,
    remove_leftovers,
    write_array,
    write_checked_json,
    writer_alive,
)


def write_version(target, value, *, overwrite):
    with atomic_directory(target, overwrite=overwrite) as staging:
        entry = write_array(staging / "x.npy", np.full(3, value))
        write_checked_json(staging / "meta.json", {"value": value, "x": entry})


def read_version(snapshot):
    meta = snapshot.read_json("meta.json")
    x = snapshot.read_array(meta["x"])
    assert (x == meta["value"]).all()
    return meta["value"]


@pytest.fixture(params=["renameat2", "rename"])
def system(request, monkeypatch):
    """Both ways of publishing: the Linux call, and plain renames where it is missing."""
    if request.param == "rename":
        monkeypatch.setattr(artifacts, "_libc_renameat2", lambda: None)
    elif artifacts._libc_renameat2() is None:
        pytest.fail("this Linux machine should offer renameat2")
    return request.param


def test_publishing_refuses_an_existing_path_and_overwrites_when_asked(system, tmp_path):
    target = tmp_path / "out"
    write_version(target, 1.0, overwrite=False)
    with pytest.raises(FileExistsError):
        write_version(target, 2.0, overwrite=False)
    assert read_snapshot(target, read_version) == 1.0
    write_version(target, 3.0, overwrite=True)
    assert read_snapshot(target, read_version) == 3.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_write_leaves_the_old_version_and_nothing_else(system, tmp_path):
    target = tmp_path / "out"
    write_version(target, 1.0, overwrite=False)
    with (
        pytest.raises(RuntimeError, match="half way"),
        atomic_directory(target, overwrite=True) as staging,
    ):
        (staging / "x.npy").write_bytes(b"half")
        raise RuntimeError("half way")
    assert read_snapshot(target, read_version) == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_path_under_a_file_is_named(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="file"):
        write_version(tmp_path / "file" / "out", 1.0, overwrite=False)


HOLD_STAGING = """
import sys, time
from pathlib import Path
from dasklr.artifacts import atomic_directory
with atomic_directory(Path(sys.argv[1]), overwrite=True) as staging:
    (staging / "part").write_text("x")
    print(staging, flush=True)
    time.sleep(600)
"""


def test_only_the_leftovers_of_dead_writers_are_removed(tmp_path):
    target = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_STAGING, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        staging = process.stdout.readline().strip()
        assert writer_alive(staging)
        assert remove_leftovers(target) == []  # a live writer's folder is kept
        assert os.path.isdir(staging)
    finally:
        process.kill()
        process.wait()
    assert not writer_alive(staging)
    # a folder just made and still empty may be a writer's that has not locked it yet
    fresh = tmp_path / ".out.tmp-000000000000"
    fresh.mkdir()
    assert [p.name for p in remove_leftovers(target)] == [os.path.basename(staging)]
    assert fresh.exists()
    old = time.time() - 2 * artifacts.EMPTY_LEFTOVER_AGE
    os.utime(fresh, (old, old))
    assert remove_leftovers(target) == [fresh]
    assert list(tmp_path.iterdir()) == []


def test_a_reader_that_loses_its_version_reads_the_new_one(tmp_path):
    """A reader part way through the old version when an overwrite removes it."""
    target = tmp_path / "out"
    write_version(target, 1.0, overwrite=False)
    calls = []

    def read_with_an_overwrite_in_between(snapshot):
        meta = snapshot.read_json("meta.json")
        if not calls:
            write_version(target, 2.0, overwrite=True)  # removes the version being read
        calls.append(meta["value"])
        return snapshot.read_array(meta["x"])[0], meta["value"]

    assert read_snapshot(target, read_with_an_overwrite_in_between) == (2.0, 2.0)
    assert calls == [1.0, 2.0]


def test_a_broken_file_is_reported_not_retried(tmp_path):
    target = tmp_path / "out"
    write_version(target, 1.0, overwrite=False)
    meta = json.loads((target / "meta.json").read_text())
    (target / "x.npy").write_bytes(b"\x93NUMPY altered")
    with pytest.raises(artifacts.ModelFormatError, match="sha256 differs"):
        read_snapshot(target, lambda s: s.read_array(meta["x"]))


def test_an_empty_folder_of_a_writer_killed_before_it_locked_it_is_removed(tmp_path):
    """A writer killed between making its staging folder and locking it leaves it empty
    and unlocked: its process id in the name tells it from a live writer's."""
    target = tmp_path / "out"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".out.tmp-000000000001-{dead.pid}"
    live = tmp_path / f".out.tmp-000000000002-{os.getpid()}"
    orphan.mkdir()
    live.mkdir()
    assert remove_leftovers(target) == [orphan]
    assert live.exists()
