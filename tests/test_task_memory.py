"""A task's peak memory: decoding a chunk and running its kernels hold at most ~1.5× the
chunk's decoded bytes.

Measured in a fresh process (so nothing else has touched its memory), after one small
read has loaded pyarrow's code: the peak resident set while one chunk is decoded and the
first pass's and a Newton pass's kernels run on it (the larger of VmHWM, reset through
/proc/self/clear_refs, and the resident size sampled every half millisecond by a
thread), less the resident size before. Measured here: a fixed ~50 MiB whatever the
chunk (pyarrow's thread pool and allocator), plus ~1.25× the chunk.
"""

import multiprocessing
import os
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dasklr.data.decode import ChunkSpec

ROWS, FEATURES = 262_144, 64  # one row group of 128 MiB decoded
#: What a first decode adds whatever the chunk's size (pyarrow's threads and allocator).
ALLOWANCE = 64 * 2**20


def _vm(field: str) -> int:
    line = next(
        x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field)
    )
    return int(line.split()[1]) * 1024


class PeakSampler(threading.Thread):
    """The largest resident size seen, read from /proc/self/statm every half millisecond."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.running, self.page = 0, True, os.sysconf("SC_PAGE_SIZE")

    def run(self):
        while self.running:
            with open("/proc/self/statm") as f:
                self.peak = max(self.peak, int(f.read().split()[1]) * self.page)
            time.sleep(0.0005)


def _peak_of_a_task(path: str, spec: ChunkSpec) -> tuple[int, int]:
    """(peak growth in bytes, decoded bytes) of decoding ``spec`` and running its kernels."""
    import fsspec

    from dasklr.data.decode import read_chunk
    from dasklr.kernels.logistic import logistic_sums
    from dasklr.kernels.summary import summary_sums

    fs = fsspec.filesystem("file")
    features = tuple(f"x{j}" for j in range(FEATURES))
    classes = np.array([0.0, 1.0])
    read_chunk(fs, ChunkSpec.of(path, (0,), 8192, sliced=True), features, "y", classes, None)
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = _vm("VmRSS:")
    sampler = PeakSampler()
    sampler.start()
    X, y, w = read_chunk(fs, spec, features, "y", classes, None)
    summary_sums(X, y, w, True, 2, 4)
    logistic_sums(X, y, w, np.full(FEATURES, 0.01), 0.1, hessian=True, hessian_stride=4)
    logistic_sums(
        X, y, w, np.full(FEATURES, 0.01), 0.1, direction=np.ones(FEATURES + 1), steps=(0.5, 0.25)
    )
    sampler.running = False
    sampler.join()
    return max(_vm("VmHWM:"), sampler.peak) - before, X.nbytes + y.nbytes


@pytest.fixture(scope="module")
def one_row_group(tmp_path_factory):
    rng = np.random.default_rng(0)
    columns = {f"x{j}": rng.standard_normal(ROWS) for j in range(FEATURES)}
    columns["y"] = (rng.random(ROWS) < 0.5).astype(np.float64)
    path = tmp_path_factory.mktemp("memory") / "one.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=ROWS)
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(lambda p: ChunkSpec.of(p, (0,), ROWS), id="whole-row-group"),
        pytest.param(
            lambda p: ChunkSpec.of(p, (0,), ROWS // 2, start=ROWS // 4, sliced=True), id="row-slice"
        ),
    ],
)
def test_a_task_peaks_at_most_one_and_a_half_chunks(one_row_group, spec):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        growth, decoded = pool.apply(_peak_of_a_task, (one_row_group, spec(one_row_group)))
    print(f"peak growth {growth / 2**20:.1f} MiB for a chunk of {decoded / 2**20:.1f} MiB")
    assert growth <= 1.5 * decoded + ALLOWANCE
