"""Where a fit runs: a Client, a scheduler address, the current client, or an embedded cluster."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from distributed import Client, LocalCluster, default_client
from distributed.security import Security

from dasklr.errors import ClusterError

#: Seconds to wait for the scheduler to answer, and then for a first worker.
CONNECT_TIMEOUT = 5.0
WORKER_TIMEOUT = 60.0


@contextmanager
def connect(client: Client | str | None = None) -> Iterator[Client]:
    """Yield a client to run on; close whatever this call started, and nothing else.

    ``client`` may be a ``distributed.Client`` (used as is), a scheduler address such as
    ``"tcp://10.0.0.5:8786"`` (connected to, then disconnected), or None: the current
    default client if there is one, otherwise a local cluster sized to the machine that
    lives only as long as this block.
    """
    if isinstance(client, Client):
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
