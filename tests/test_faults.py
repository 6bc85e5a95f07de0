"""Faults on real multi-process clusters: killed workers, no workers left, a driver that
dies while writing a checkpoint. The reference of every disturbed fit is the same fit,
undisturbed: the coefficients and history must be bit-identical.
"""

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from distributed import Client, LocalCluster

import dasklr
from dasklr.cli.main import SCHEDULER_VARIABLE
from dasklr.data.synthetic import make_classification, write_parquet_dataset
from dasklr.fit.checkpoint import CheckpointPlan, read_checkpoint


@pytest.fixture(scope="module")
def nanny_cluster():
    """Two worker processes under nannies, which restart a worker that dies."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.CRITICAL,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults")
    X, y, _, _ = make_classification(40_000, 8, seed=4)
    write_parquet_dataset(folder, X, y, n_files=4, row_group_rows=2_000)
    return folder


def fit(client, folder, callbacks=(), **params):
    params = {"alpha": 1e-4, "tol": 1e-10, "max_iter": 200, "client": client} | params
    model = dasklr.LogisticRegression(**params)
    return model.fit(dasklr.read_parquet(folder, label="y"), callbacks=list(callbacks))


def kill_a_worker_soon(client, delay=0.05):
    """SIGKILL one worker process ``delay`` seconds from now: in the middle of a pass."""
    pids = client.run(os.getpid)  # taken now: the timer thread must not talk to Dask
    victim = pids[sorted(pids)[0]]
    threading.Timer(delay, os.kill, (victim, signal.SIGKILL)).start()


def assert_same_fit(a, b):
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert [h["objective"] for h in a.history_] == [h["objective"] for h in b.history_]


@pytest.mark.parametrize(("solver", "cache"), [("newton", "none"), ("lbfgs", "memory")])
def test_worker_killed_mid_pass_changes_nothing(nanny_cluster, dataset, solver, cache):
    reference = fit(nanny_cluster, dataset, solver=solver, cache=cache)
    before = set(nanny_cluster.run(os.getpid).values())

    def kill_during_the_next_pass(record):
        if record.iteration == 1:
            kill_a_worker_soon(nanny_cluster)

    disturbed = fit(nanny_cluster, dataset, [kill_during_the_next_pass], solver=solver, cache=cache)
    assert_same_fit(disturbed, reference)
    nanny_cluster.wait_for_workers(2, timeout=30)
    assert set(nanny_cluster.run(os.getpid).values()) != before  # a worker really died


@pytest.mark.slow
def test_workers_killed_again_and_again_change_nothing(nanny_cluster, dataset):
    with pytest.warns(dasklr.ConvergenceWarning):  # 12 iterations: far from converged
        reference = fit(nanny_cluster, dataset, solver="gd", cache="none", max_iter=12)
    before = set(nanny_cluster.run(os.getpid).values())

    def kill_often(record):
        if record.iteration % 3 == 1:
            kill_a_worker_soon(nanny_cluster, delay=0.02)

    with pytest.warns(dasklr.ConvergenceWarning):
        disturbed = fit(
            nanny_cluster, dataset, [kill_often], solver="gd", cache="none", max_iter=12
        )
    assert_same_fit(disturbed, reference)
    nanny_cluster.wait_for_workers(2, timeout=30)
    assert set(nanny_cluster.run(os.getpid).values()) != before  # workers really died


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(nanny: bool, workers: int = 2):
    """`dask scheduler` and `dask worker` processes on 127.0.0.1: (address, processes)."""
    address = f"tcp://127.0.0.1:{free_port()}"
    dask = [sys.executable, "-m", "dask"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    port = address.rsplit(":", 1)[1]
    scheduler = subprocess.Popen(
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"], **quiet
    )
    options = ["--nthreads", "1", "--no-dashboard", *([] if nanny else ["--no-nanny"])]
    started = [
        subprocess.Popen([*dask, "worker", address, *options], **quiet) for _ in range(workers)
    ]
    return address, scheduler, started


@pytest.mark.slow
def test_all_workers_gone_is_a_clear_error_and_resume_finishes(client, dataset, tmp_path):
    """Workers without nannies die for good: the fit fails within worker_timeout, naming
    the scheduler; the last checkpoint resumes on another cluster to the same result."""
    address, scheduler, workers = start_cluster(nanny=False)
    try:
        with Client(address, timeout=30) as doomed:
            doomed.wait_for_workers(2, timeout=60)
            plan = CheckpointPlan(path=tmp_path / "ckpt", every=1, identity={})

            def kill_all(record):
                if record.iteration == 2:
                    for worker in workers:
                        worker.kill()

            started = time.monotonic()
            with pytest.raises(dasklr.ClusterError, match=f"scheduler at {address} has had no"):
                dasklr.LogisticRegression(
                    alpha=1e-4,
                    tol=1e-10,
                    solver="lbfgs",
                    cache="none",
                    worker_timeout=3,
                    client=doomed,
                ).fit(
                    dasklr.read_parquet(dataset, label="y"), callbacks=[kill_all], checkpoint=plan
                )
            assert time.monotonic() - started < 60  # bounded: never a hang
    finally:
        for process in [*workers, scheduler]:
            process.kill()
            process.wait()
    checkpoint = read_checkpoint(tmp_path / "ckpt")
    assert checkpoint.state.iteration == 2  # intact, written before the workers died
    reference = fit(client, dataset, solver="lbfgs", cache="none")
    resumed = dasklr.LogisticRegression(
        alpha=1e-4, tol=1e-10, max_iter=200, solver="lbfgs", cache="none", client=client
    ).fit(dasklr.read_parquet(dataset, label="y"), resume=checkpoint)
    assert_same_fit(resumed, reference)


def test_driver_dying_while_writing_a_checkpoint_resumes_from_the_previous(
    client, dataset, tmp_path
):
    plan = CheckpointPlan(path=tmp_path / "ckpt", every=1, identity={})
    reference = fit(client, dataset, solver="newton", cache="none")
    stopped = dasklr.LogisticRegression(
        alpha=1e-4, tol=1e-10, max_iter=200, solver="newton", cache="none", client=client
    )
    stop_at_2 = lambda record: record.iteration == 2  # noqa: E731 — a callback that stops
    stopped.fit(dasklr.read_parquet(dataset, label="y"), callbacks=[stop_at_2], checkpoint=plan)
    # what a driver killed while writing the next checkpoint leaves on disk
    partial = tmp_path / ".ckpt.tmp-deadbeef"
    partial.mkdir()
    (partial / "params.npy").write_bytes(b"\x93NUMPY half")
    checkpoint = read_checkpoint(tmp_path / "ckpt")
    assert checkpoint.state.iteration == 2
    resumed = dasklr.LogisticRegression(
        alpha=1e-4, tol=1e-10, max_iter=200, solver="newton", cache="none", client=client
    ).fit(dasklr.read_parquet(dataset, label="y"), resume=checkpoint, checkpoint=plan)
    assert not partial.exists()  # the next writer removed what the dead one left
    assert_same_fit(resumed, reference)


@pytest.mark.slow
def test_scheduler_killed_mid_fit_is_exit_4_in_one_line_and_resume_is_exact(dataset, tmp_path):
    """SIGKILL the scheduler while `dasklr train` runs: one line naming the address, exit
    code 4, soon; the checkpoint is intact, and --resume on a new cluster ends with the
    coefficients and history of a run never interrupted."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{dataset}"\nlabel = "y"\n\n'
        '[model]\nalpha = 0.0001\ntol = 1e-10\nsolver = "lbfgs"\ncache = "none"\n\n'
        f'[output]\npath = "{tmp_path / "model"}"\ncheckpoint_every = 1\n'
    )

    def train(address, *extra):
        return subprocess.Popen(
            [sys.executable, "-m", "dasklr", "train", str(config), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "DASKLR_SCHEDULER": address},
        )

    address, scheduler, workers = start_cluster(nanny=True, workers=1)
    try:
        run = train(address)
        for line in run.stdout:
            if line.startswith("iter") and int(line.split()[1]) == 3:
                break
        scheduler.kill()
        killed_at = time.monotonic()
        _, err = run.communicate(timeout=120)
        seconds = time.monotonic() - killed_at
    finally:
        for process in [*workers, scheduler]:
            process.kill()
            process.wait()
    print(f"exit {run.returncode} {seconds:.1f} s after the kill: {err.strip()[-2000:]}")
    assert run.returncode == 4
    *progress, last = err.strip().splitlines()
    assert all(line.startswith("pass ") for line in progress)  # no log lines, no traceback
    assert last == (
        f"dasklr: error: lost the connection to the Dask scheduler at {address} during a "
        "pass: was it stopped or killed? A checkpoint (output.checkpoint_every) lets train "
        f"--resume continue on a new cluster (the address is ${SCHEDULER_VARIABLE})"
    )
    assert seconds < 30
    assert read_checkpoint(tmp_path / "model.checkpoint").state.iteration >= 3

    address, scheduler, workers = start_cluster(nanny=True, workers=1)
    try:
        resumed = train(address, "--resume", "--quiet")
        assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
        with Client(address, timeout=30) as fresh:
            reference = fit(fresh, dataset, solver="lbfgs", cache="none")
    finally:
        for process in [*workers, scheduler]:
            process.kill()
            process.wait()
    assert_same_fit(dasklr.load_model(tmp_path / "model"), reference)
