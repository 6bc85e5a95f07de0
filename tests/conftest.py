"""Shared fixtures: one real two-process LocalCluster for the whole session."""

import logging

import pytest
from distributed import Client, LocalCluster


@pytest.fixture(scope="session")
def cluster():
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    ) as local:
        yield local


@pytest.fixture(scope="session")
def client(cluster):
    """A client that is *not* the default one, passed explicitly to estimators."""
    with Client(cluster, set_as_default=False) as c:
        yield c
