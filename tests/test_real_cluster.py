"""dasklr on a cluster started the way operators start one: `dask scheduler` and two
`dask worker` processes on 127.0.0.1, reached only through the scheduler's address.

The bounded-memory tests train, with default settings, on Parquet data twice the workers'
total memory limit in 128 MiB row groups, and on a row group larger than a worker's
limit, and check that no worker died or came near its limit.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import Client
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

import dasklr
from dasklr.cli.main import main
from dasklr.data.synthetic import make_classification, write_parquet_dataset

#: Memory limit of each `dask worker` process.
WORKER_MEMORY = 400 * 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory):
    """Start `dask scheduler` and two `dask worker` processes; stop them afterwards."""
    address = f"tcp://127.0.0.1:{free_port()}"
    folder = tmp_path_factory.mktemp("workers")
    dask = [sys.executable, "-m", "dask"]
    processes = [
        subprocess.Popen(
            [
                *dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                address.rsplit(":", 1)[1],
                "--no-dashboard",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for _ in range(2):
        processes.append(
            subprocess.Popen(
                [
                    *dask,
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--memory-limit",
                    str(WORKER_MEMORY),
                    "--no-dashboard",
                    "--local-directory",
                    str(folder),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout=5) as client:
                    client.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real-small")
    X, y, _, _ = make_classification(3000, 4, seed=21)
    write_parquet_dataset(folder, X, y, n_files=2, row_group_rows=500)
    return folder, X, y


def test_train_through_the_scheduler_address(scheduler_address, small_dataset):
    folder, X, y = small_dataset
    model = dasklr.LogisticRegression(alpha=1e-2, tol=1e-9, client=scheduler_address)
    model.fit(dasklr.read_parquet(folder, label="y"))
    # reference: scikit-learn in memory, C = 1/(alpha·n)
    reference = SklearnLogisticRegression(C=1 / (1e-2 * len(y)), tol=1e-12, max_iter=1000)
    reference.fit(X, y)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-6)
    np.testing.assert_allclose(model.intercept_, reference.intercept_, rtol=1e-6)


def test_cli_trains_through_the_scheduler_key(scheduler_address, small_dataset, tmp_path):
    folder = small_dataset[0]
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{folder}"\nlabel = "y"\n\n[model]\nalpha = 0.01\ntol = 1e-9\n\n'
        f'[cluster]\nscheduler = "{scheduler_address}"\n\n[output]\npath = "{tmp_path / "m"}"\n'
    )
    assert main(["train", str(config), "--quiet"]) == 0
    saved = dasklr.load_model(tmp_path / "m")
    reference = dasklr.LogisticRegression(alpha=1e-2, tol=1e-9, client=scheduler_address)
    reference.fit(dasklr.read_parquet(folder, label="y"))
    np.testing.assert_array_equal(saved.coef_, reference.coef_)


def worker_peaks(client: Client) -> dict[str, int]:
    """Each worker process's peak resident memory in bytes: VmHWM of /proc/self/status.

    (Not getrusage's ru_maxrss: Linux carries it over from the parent across fork and
    exec, so a worker would report the peak of the process that started it.)
    """
    status = client.run(Path("/proc/self/status").read_text)
    return {worker: _vm_hwm(text) for worker, text in status.items()}


def _vm_hwm(status: str) -> int:
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024  # reported in kB


def fit_block_reference(X, y, alpha):
    """scikit-learn's optimum of the block, in memory (C = 1/(alpha·n))."""
    reference = SklearnLogisticRegression(
        C=1 / (alpha * len(y)), solver="newton-cholesky", tol=1e-14, max_iter=100
    )
    return reference.fit(X, y)


@pytest.fixture(scope="module")
def large_dataset(tmp_path_factory):
    """~1.8 GB decoded (2× the workers' total memory limit) in row groups of 128 MiB: one
    block of 262,144 rows × 64 features, one row group, written once and copied.

    The mean loss over copies of a block equals the block's own, so the optimum is the
    block's, which scikit-learn finds in memory.
    """
    folder = tmp_path_factory.mktemp("real-large")
    X, y, _, _ = make_classification(262_144, 64, seed=5)
    table = pa.table({**{f"x{j:02d}": X[:, j] for j in range(64)}, "y": y})
    pq.write_table(table, folder / "part-000.parquet", row_group_size=len(y))
    copies = 13
    for i in range(1, copies):
        shutil.copyfile(folder / "part-000.parquet", folder / f"part-{i:03d}.parquet")
    decoded = (8 * X.shape[1] + 8) * X.shape[0] * copies
    return folder, X, y, decoded


@pytest.mark.slow
def test_row_groups_of_128_mib_train_on_400_mib_workers_with_default_settings(
    scheduler_address, large_dataset, tmp_path
):
    """No chunk_bytes, no cache setting: dasklr sizes the chunks to the workers itself."""
    folder, X, y, decoded = large_dataset
    assert decoded >= 2 * 2 * WORKER_MEMORY
    with Client(scheduler_address, timeout=10) as client:
        workers_before = set(client.scheduler_info(n_workers=-1)["workers"])
        pids_before = client.run(os.getpid)
        driver = psutil.Process()
        driver_before = driver.memory_info().rss
        data = dasklr.read_parquet(folder, label="y")
        model = dasklr.LogisticRegression(alpha=1e-3, tol=1e-11, cache_dir=str(tmp_path))
        model.set_params(client=client).fit(data)
        driver_growth = driver.memory_info().rss - driver_before
        peaks = worker_peaks(client)
        workers_after = set(client.scheduler_info(n_workers=-1)["workers"])
        pids_after = client.run(os.getpid)
    print(
        f"decoded {decoded / 2**20:.0f} MiB, cache {model.cache_}, passes {model.n_passes_}, "
        f"pass seconds {np.round(model.pass_seconds_, 2).tolist()}, "
        f"worker peaks {[round(p / 2**20) for p in peaks.values()]} MiB, "
        f"driver growth {driver_growth / 2**20:.0f} MiB"
    )
    assert workers_after == workers_before and pids_after == pids_before  # none restarted
    assert model.cache_ == "disk"  # the data does not fit in the workers' memory
    # Dask pauses a worker at 80% of its limit: staying below means it never paused
    assert max(peaks.values()) < 0.8 * WORKER_MEMORY
    assert driver_growth < 100 * 2**20  # the driver holds no data
    reference = fit_block_reference(X, y, 1e-3)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, reference.intercept_, rtol=0, atol=1e-10)
    assert list(Path(tmp_path).iterdir()) == []  # the disk cache is gone


@pytest.mark.slow
def test_a_row_group_larger_than_a_worker_trains_in_row_slices(scheduler_address, tmp_path):
    """One file, one row group of 440 MB decoded (more than a worker's 400 MiB limit):
    read in row slices, it gives the coefficients of the same rows in small row groups."""
    X, y, _, _ = make_classification(860_000, 64, seed=8)
    table = pa.table({**{f"x{j:02d}": X[:, j] for j in range(64)}, "y": y})
    (tmp_path / "one").mkdir()
    (tmp_path / "small").mkdir()
    pq.write_table(table, tmp_path / "one" / "big.parquet", row_group_size=len(y))
    pq.write_table(table, tmp_path / "small" / "parts.parquet", row_group_size=65_536)
    del table
    assert 8 * X.size > WORKER_MEMORY
    fits = {}
    with Client(scheduler_address, timeout=10) as client:
        pids_before = client.run(os.getpid)
        for name in ("one", "small"):
            data = dasklr.read_parquet(tmp_path / name, label="y")
            model = dasklr.LogisticRegression(alpha=1e-3, tol=1e-11, client=client)
            fits[name] = model.fit(data)
        assert client.run(os.getpid) == pids_before  # no worker was restarted
        specs = dasklr.read_parquet(tmp_path / "one", label="y").chunk_specs
        assert len(specs) > 1 and all(spec.sliced for spec in specs)  # row slices
    print(f"passes: sliced {fits['one'].n_passes_}, row groups {fits['small'].n_passes_}")
    one, small = fits["one"], fits["small"]
    assert one.converged_ and small.converged_
    np.testing.assert_allclose(one.coef_, small.coef_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(one.intercept_, small.intercept_, rtol=0, atol=1e-9)


@pytest.mark.slow
def test_workers_killed_for_memory_are_named_by_file_and_row_groups(
    scheduler_address, large_dataset, tmp_path
):
    """A chunk the user made too large (three 128 MiB row groups in one read) kills every
    worker that tries it: the error names the file and row groups, not a Dask task key.
    (This runs last in the module: the workers it kills are restarted by their nannies.)"""
    source = pq.read_table(next(large_dataset[0].glob("*.parquet")))
    with pq.ParquetWriter(tmp_path / "big.parquet", source.schema) as writer:
        for _ in range(3):
            writer.write_table(source, row_group_size=source.num_rows)
    del source
    data = dasklr.read_parquet(tmp_path, label="y", chunk_bytes=2**30)
    model = dasklr.LogisticRegression(cache="none", client=scheduler_address)
    with pytest.raises(dasklr.ClusterError) as caught:
        model.fit(data)
    message = str(caught.value)
    print(message)
    assert re.search(
        r"died \d+ times running chunk 0 \(file \S+big\.parquet, row groups "
        r"\[0, 1, 2\]\)",
        message,
    )
    assert "memory limit" in message and "dasklr-" not in message
