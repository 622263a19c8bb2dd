"""TLS settings given as PEM text (ssl.ca.pem, ssl.certificate.pem, ssl.key.pem), as a
deployment passes them from its secrets store, reach kafka-python's clients too (log dir
sizes, committed offsets), instead of sending those clusters to librdkafka's OffsetFetch,
whose coordinator-error answer crashed the process (console/kafka/offsetfetch.py)."""

import os
import ssl
import subprocess
import tempfile

import pytest

from console.kafka.connection import Connection
from console.kafka.logdirs import kafka_python_config


def _cert(tmp_path, name: str) -> tuple[str, str]:
    """A self-signed certificate and its key, as PEM text."""
    key, cert = tmp_path / f"{name}.key", tmp_path / f"{name}.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key)]
        + ["-out", str(cert), "-days", "1", "-subj", f"/CN={name}"],
        check=True,
        capture_output=True,
    )
    return cert.read_text(), key.read_text()


def _left_behind() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("kafka-console-tls-")}


def test_pem_text_makes_the_ssl_context(tmp_path):
    ca, _ = _cert(tmp_path, "the-ca")
    cert, key = _cert(tmp_path, "the-client")
    before = _left_behind()
    conf = kafka_python_config(
        Connection(
            "pem",
            "127.0.0.1:1",
            {
                "security.protocol": "SSL",
                "ssl.ca.pem": ca,
                "ssl.certificate.pem": cert,
                "ssl.key.pem": key,
            },
        )
    )
    ctx = conf["ssl_context"]
    assert {"commonName": "the-ca"} in [
        dict(x[0] for x in c["subject"]) for c in ctx.get_ca_certs()
    ]
    assert _left_behind() == before  # the key's file went at once


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path):
    cert, _ = _cert(tmp_path, "one")
    _, other_key = _cert(tmp_path, "two")
    properties = {"security.protocol": "SSL", "ssl.certificate.pem": cert, "ssl.key.pem": other_key}
    before = _left_behind()
    with pytest.raises(ssl.SSLError):
        kafka_python_config(Connection("pem", "127.0.0.1:1", properties))
    assert _left_behind() == before
