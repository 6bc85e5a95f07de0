"""Training against a `tls://` scheduler with certificates generated here; a client that
trusts another CA is refused."""

import datetime
import ipaddress
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import dasklr
from dasklr.data.synthetic import make_classification, write_parquet_dataset
from dasklr.errors import ClusterError
from dasklr.passes.cluster import secure_client


def certificate_authority(folder, name):
    """A CA and one certificate it signs for 127.0.0.1 (server and client use), as PEM."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {part: folder / f"{name}-{part}.pem" for part in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {part: str(path) for part, path in paths.items()}


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    trusted = certificate_authority(folder, "trusted")
    other = certificate_authority(folder, "other")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tls://127.0.0.1:{port}"
    tls = [
        "--tls-ca-file",
        trusted["ca"],
        "--tls-cert",
        trusted["cert"],
        "--tls-key",
        trusted["key"],
    ]
    dask = [sys.executable, "-m", "dask"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [
        subprocess.Popen(
            [
                *dask,
                "scheduler",
                "--protocol",
                "tls",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
                *tls,
            ],
            **quiet,
        ),
        subprocess.Popen(
            [*dask, "worker", address, "--nthreads", "1", "--no-dashboard", *tls], **quiet
        ),
    ]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with secure_client(address, trusted["ca"], trusted["cert"], trusted["key"]) as c:
                    c.wait_for_workers(1, timeout=30)
                break
            except (ClusterError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address, trusted, other, folder
    finally:
        for process in processes:
            process.kill()
            process.wait()


def config_for(path, address, certs, data, model):
    path.write_text(
        f'[data]\npath = "{data}"\nlabel = "y"\n\n[model]\nalpha = 0.01\ntol = 1e-9\n\n'
        f'[cluster]\nscheduler = "{address}"\ntls_ca_file = "{certs["ca"]}"\n'
        f'tls_cert = "{certs["cert"]}"\ntls_key = "{certs["key"]}"\n\n'
        f'[output]\npath = "{model}"\nmetrics = false\n'
    )
    return path


def test_train_over_tls_and_refuse_another_ca(tls_cluster, client, tmp_path):
    address, trusted, other, _ = tls_cluster
    X, y, _, _ = make_classification(3000, 4, seed=13)
    write_parquet_dataset(tmp_path / "d", X, y, n_files=2, row_group_rows=500)
    config = config_for(tmp_path / "ok.toml", address, trusted, tmp_path / "d", tmp_path / "m")
    result = subprocess.run(
        [sys.executable, "-m", "dasklr", "train", str(config), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    model = dasklr.load_model(tmp_path / "m")
    # the same fit on the plain-TCP session cluster: same chunks, same bits
    reference = dasklr.LogisticRegression(alpha=0.01, tol=1e-9, client=client).fit(
        dasklr.read_parquet(tmp_path / "d", label="y")
    )
    np.testing.assert_array_equal(model.coef_, reference.coef_)

    # predict and evaluate reach the same scheduler through --config
    scored = subprocess.run(
        [
            sys.executable,
            "-m",
            "dasklr",
            "evaluate",
            str(tmp_path / "m"),
            str(tmp_path / "d"),
            "--config",
            str(config),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert scored.returncode == 0, scored.stderr
    assert '"accuracy"' in scored.stdout

    wrong = config_for(tmp_path / "bad.toml", address, other, tmp_path / "d", tmp_path / "m2")
    refused = subprocess.run(
        [sys.executable, "-m", "dasklr", "train", str(wrong), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 4
    assert f"cannot reach the Dask scheduler at {address} over TLS" in refused.stderr
    assert not (tmp_path / "m2").exists()
