"""Safe by default: the engine's cluster listens on 127.0.0.1 only; TLS on a real cluster.

The certificates are made in the test (a self-signed CA and a certificate it
signs, with ``cryptography``); the cluster is a real LocalCluster with TLS
between client, scheduler and workers.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from belleflow.engine import run_channels
from belleflow.engine.executors import (
    ClusterError,
    load_cluster_spec,
    local_cluster,
    make_security,
)
from belleflow.processor import Channel


def listening(process: psutil.Process) -> set[tuple[str, int]]:
    """Listening TCP sockets of a process and its children."""
    out = set()
    for p in [process, *process.children(recursive=True)]:
        for conn in p.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                out.add((conn.laddr.ip, conn.laddr.port))
    return out


def test_local_cluster_listens_on_loopback_only() -> None:
    me = psutil.Process()
    before = listening(me)
    with local_cluster(1, dashboard_address="127.0.0.1:0", memory_limit="1GiB") as cluster:
        opened = listening(me) - before
        assert cluster.dashboard_link.startswith("http://127.0.0.1:")
    # Scheduler, dashboard, nanny and worker: all on loopback.
    assert len(opened) >= 3, opened
    assert {ip for ip, _ in opened} == {"127.0.0.1"}


def write_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A self-signed CA and a certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "belleflow test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
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
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.mark.slow
def test_tls_cluster(small_catalogue: Path, dimuon_channel: Channel, tmp_path: Path) -> None:
    ca, cert, key = write_certificates(tmp_path)
    security = make_security(ca, cert, key)
    options: dict[str, Any] = {"catalogue": small_catalogue, "out": None, "progress": False}
    options["echo"] = lambda _: None
    reference = run_channels([dimuon_channel], executor="iterative", **options)["dimuon"]
    with local_cluster(
        1, security=security, dashboard_address="127.0.0.1:0", memory_limit="1GiB"
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        result = run_channels([dimuon_channel], executor=address, security=security, **options)
        # Without the certificates the scheduler cannot be used.
        with pytest.raises(ClusterError, match="uses TLS: give --tls-ca"):
            run_channels([dimuon_channel], executor=address, **options)
    assert result["dimuon"].complete
    for name, h in result["dimuon"].histograms.items():
        np.testing.assert_array_equal(
            h.values(flow=True), reference.histograms[name].values(flow=True)
        )


def test_tls_options_are_checked(tmp_path: Path) -> None:
    ca, cert, key = write_certificates(tmp_path)
    assert make_security(None, None, None) is None
    with pytest.raises(ValueError, match="missing --tls-key"):
        make_security(ca, cert, None)
    with pytest.raises(ValueError, match="no such file"):
        make_security(ca, cert, tmp_path / "nope.pem")
    config = tmp_path / "slurm.yaml"
    config.write_text(
        f"cluster: {{cores: 1}}\nsecurity: {{tls_ca: {ca}, tls_cert: {cert}, tls_key: {key}}}\n"
    )
    spec = load_cluster_spec("slurm", config)
    assert spec.security == {"tls_ca": str(ca), "tls_cert": str(cert), "tls_key": str(key)}
