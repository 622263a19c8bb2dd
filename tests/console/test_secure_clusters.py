"""SASL/SCRAM and TLS clusters: credentials from the environment work, a wrong password or
CA says so, and the secret never shows in pages, logs or error messages."""

import logging
import subprocess

import pytest
from django.urls import reverse

from console.clusters import all_clusters, load_clusters, reset_clusters
from tools.kafka.local import LocalKafka

pytestmark = [pytest.mark.django_db, pytest.mark.kafka, pytest.mark.slow]

SECRET = "s3cret-scram-pw-734"


@pytest.fixture(scope="module")
def scram_kafka(tmp_path_factory):
    k = LocalKafka(tmp_path_factory.mktemp("scram"), nodes=1, scram_users={"console": SECRET})
    k.start()
    yield k
    k.destroy()


def test_scram_credentials_from_the_environment(scram_kafka, client_for, tmp_path, caplog):
    file = tmp_path / "clusters.toml"
    file.write_text(
        f"""
[[clusters]]
name = "scram"
bootstrap_servers = "{scram_kafka.sasl_bootstrap_servers}"
[clusters.properties]
"security.protocol" = "SASL_PLAINTEXT"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "console"
"sasl.password" = "${{SCRAM_PW}}"

[[clusters]]
name = "wrongpw"
bootstrap_servers = "{scram_kafka.sasl_bootstrap_servers}"
[clusters.properties]
"security.protocol" = "SASL_PLAINTEXT"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "console"
"sasl.password" = "${{WRONG_PW}}"
"""
    )
    saved = all_clusters()
    reset_clusters(
        load_clusters(environ={"SCRAM_PW": SECRET, "WRONG_PW": "nope-" + SECRET}, file=str(file))
    )
    caplog.set_level(logging.DEBUG)
    try:
        c = client_for("admin")
        html = c.get(reverse("console:clusters")).content.decode()
        good = html.split('data-cluster="scram"')[1].split("</article>")[0]
        bad = html.split('data-cluster="wrongpw"')[1].split("</article>")[0]
        assert "reachable" in good and "unreachable" not in good
        assert "authentication failed" in bad.lower()
        detail = c.get(reverse("console:cluster", args=["wrongpw"])).content.decode()
        assert "authentication failed" in detail.lower()
        brokers = c.get(reverse("console:cluster", args=["scram"])).content.decode()
        assert f"127.0.0.1:{scram_kafka.nodes[0].sasl_port}" in brokers
        for text in (html, detail, brokers, caplog.text):
            assert SECRET not in text
    finally:
        reset_clusters(saved)


@pytest.fixture(scope="module")
def tls_kafka(tmp_path_factory):
    k = LocalKafka(tmp_path_factory.mktemp("tls"), nodes=1, tls=True)
    k.start()
    yield k
    k.destroy()


def test_tls_cluster_with_its_ca_and_a_wrong_ca(tls_kafka, client_for, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(tmp_path / "k"),
            "-out",
            str(other_ca),
            "-days",
            "1",
            "-subj",
            "/CN=other",
        ],
        check=True,
        capture_output=True,
    )
    env = {
        "KAFKA_CLUSTERS_0_NAME": "tls",
        "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": tls_kafka.ssl_bootstrap_servers,
        "KAFKA_CLUSTERS_0_PROPERTIES_SECURITY_PROTOCOL": "SSL",
        "KAFKA_CLUSTERS_0_PROPERTIES_SSL_CA_LOCATION": str(tls_kafka.ca_file),
        "KAFKA_CLUSTERS_1_NAME": "wrongca",
        "KAFKA_CLUSTERS_1_BOOTSTRAPSERVERS": tls_kafka.ssl_bootstrap_servers,
        "KAFKA_CLUSTERS_1_PROPERTIES_SECURITY_PROTOCOL": "SSL",
        "KAFKA_CLUSTERS_1_PROPERTIES_SSL_CA_LOCATION": str(other_ca),
    }
    saved = all_clusters()
    reset_clusters(load_clusters(environ=env, file=""))
    try:
        html = client_for("viewer").get(reverse("console:clusters")).content.decode()
        good = html.split('data-cluster="tls"')[1].split("</article>")[0]
        bad = html.split('data-cluster="wrongca"')[1].split("</article>")[0]
        assert "reachable" in good and "unreachable" not in good
        assert "TLS handshake failed" in bad
    finally:
        reset_clusters(saved)


def test_tls_cluster_with_its_ca_as_pem_text_uses_kafka_python(tls_kafka, client_for):
    """The CA given as PEM text (ssl.ca.pem): sizes and committed offsets come through
    kafka-python, not librdkafka's OffsetFetch (console/kafka/offsetfetch.py)."""
    from console.clusters import get_cluster
    from console.kafka import offsetfetch
    from console.kafka.logdirs import forget_log_dirs, log_dirs

    env = {
        "KAFKA_CLUSTERS_0_NAME": "tlspem",
        "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": tls_kafka.ssl_bootstrap_servers,
        "KAFKA_CLUSTERS_0_PROPERTIES_SECURITY_PROTOCOL": "SSL",
        "KAFKA_CLUSTERS_0_PROPERTIES_SSL_CA_PEM": tls_kafka.ca_file.read_text(),
    }
    saved = all_clusters()
    reset_clusters(load_clusters(environ=env, file=""))
    try:
        cluster = get_cluster("tlspem")
        assert offsetfetch.committed(cluster, ["tlspem-nobody"]) == {"tlspem-nobody": {}}
        forget_log_dirs()
        found = log_dirs(cluster)
        assert found.available and found.complete, found.reason
        html = client_for("viewer").get(reverse("console:clusters")).content.decode()
        assert "unreachable" not in html.split('data-cluster="tlspem"')[1].split("</article>")[0]
    finally:
        reset_clusters(saved)
