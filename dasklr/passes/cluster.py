"""Where a fit runs: a Client, a scheduler address, the current client, or an embedded cluster."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from distributed import Client, LocalCluster, default_client
from distributed.security import Security
from threadpoolctl import threadpool_info, threadpool_limits

from dasklr.errors import ClusterError
from dasklr.options import DEFAULT_WORKER_TIMEOUT
from dasklr.passes.in_process import InProcess

#: Seconds to wait for the scheduler to answer, and then for a first worker.
CONNECT_TIMEOUT = 5.0
#: (the same wait as a pass's: ``options.DEFAULT_WORKER_TIMEOUT``)
WORKER_TIMEOUT = DEFAULT_WORKER_TIMEOUT


@contextmanager
def connect(
    client: Client | InProcess | str | None = None, in_process: bool = False
) -> Iterator[Client | InProcess]:
    """Yield a client to run on; close whatever this call started, and nothing else.

    ``client`` may be a ``distributed.Client`` (used as is), a scheduler address such as
    ``"tcp://10.0.0.5:8786"`` (connected to, then disconnected), or None: the current
    default client if there is one, else this process (``InProcess``) when the caller
    says the data is small and in memory (``in_process``), else a local cluster sized to
    the machine that lives only as long as this block.
    """
    if isinstance(client, Client | InProcess):
        yield client
        return
    if isinstance(client, str):
        try:
            connected = Client(client, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {client}: {exc}") from None
        with connected:
            _wait_for_workers(connected, client)
            yield connected
        return
    if client is not None:
        raise TypeError(f"client must be a distributed.Client, an address or None, not {client!r}")
    try:
        current = default_client()
    except ValueError:
        current = None
    if current is not None:
        yield current
        return
    if in_process:
        yield InProcess()
        return
    with (
        LocalCluster(
            processes=True,
            host="127.0.0.1",  # scheduler and workers listen on loopback only
            dashboard_address=None,
            # the scheduler's HTTP server would otherwise try port 8787 and warn if taken
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.CRITICAL,
        ) as cluster,
        Client(cluster) as embedded,
    ):
        yield embedded


def _wait_for_workers(client: Client, address: str) -> None:
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except TimeoutError:
        raise ClusterError(
            f"the Dask scheduler at {address} has no workers after {WORKER_TIMEOUT:.0f} s"
        ) from None


def secure_client(address: str, ca_file: str, cert: str, key: str) -> Client:
    """A client of a ``tls://`` scheduler that trusts ``ca_file`` and shows ``cert``/``key``.

    Encryption is required: the client refuses a scheduler whose certificate the CA did
    not sign, and the scheduler refuses a client without a certificate it trusts.
    """
    security = Security(
        tls_ca_file=ca_file, tls_client_cert=cert, tls_client_key=key, require_encryption=True
    )
    try:
        return Client(address, security=security, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} over TLS: {exc}"
        ) from None


@contextmanager
def one_blas_thread(client: Client) -> Iterator[None]:
    """Limit BLAS to one thread in every worker process for the block, then put back what
    each had: Dask runs one kernel per worker thread, and BLAS threads on top of those
    would fight for the same cores.

    Set from ``client.run`` (the workers' event loop), not inside each task: a limit set
    in a task's own thread did not reach the BLAS calls of the tasks (measured with
    OpenBLAS 0.3.31). A worker that joins during the fit keeps its own setting (Dask's
    nannies start workers with one BLAS thread).
    """
    before = client.run(blas_threads)
    client.run(set_blas_threads, 1)
    try:
        yield
    finally:
        alive = set(client.scheduler_info(n_workers=-1).get("workers", {}))
        for threads in set(before.values()):
            workers = [w for w, t in before.items() if t == threads and w in alive]
            if workers:  # a dead worker would make client.run wait
                with suppress(OSError, TimeoutError):
                    client.run(set_blas_threads, threads, workers=workers, on_error="ignore")


def blas_threads() -> int | None:
    """The threads this process's BLAS may use (None without a BLAS)."""
    counts = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return max(counts) if counts else None


def set_blas_threads(threads: int | None) -> None:
    if threads is not None:
        threadpool_limits(threads, user_api="blas")
