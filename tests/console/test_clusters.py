"""Cluster configuration: TOML file, Kafka UI variables, and clear errors for bad input."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from console.clusters import load_clusters

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "clusters.toml"
    path.write_text(text)
    return str(path)


def test_toml_cluster_with_properties_and_env_secret(tmp_path):
    file = write(
        tmp_path,
        """
[[clusters]]
name = "prod"
bootstrap_servers = "k1:9092,k2:9092"
read_only = true
schema_registry_url = "http://registry:8081"
[clusters.properties]
"security.protocol" = "SASL_PLAINTEXT"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "console"
"sasl.password" = "${PROD_PW}"
""",
    )
    (c,) = load_clusters(environ={"PROD_PW": "s3cret"}, file=file)
    assert c.name == "prod"
    assert c.bootstrap_servers == "k1:9092,k2:9092"
    assert c.read_only is True
    assert c.schema_registry_url == "http://registry:8081"
    assert c.client_config()["sasl.password"] == "s3cret"
    assert c.public_properties()["sasl.password"] == "******"
    assert "s3cret" not in repr(c)


def test_kafka_ui_variables_are_accepted():
    env = {
        "KAFKA_CLUSTERS_0_NAME": "local",
        "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": "127.0.0.1:9092",
        "KAFKA_CLUSTERS_0_READONLY": "true",
        "KAFKA_CLUSTERS_0_PROPERTIES_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_CLUSTERS_0_PROPERTIES_SASL_MECHANISM": "PLAIN",
        "KAFKA_CLUSTERS_0_PROPERTIES_SASL_JAAS_CONFIG": (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            'username="alice" password="pw";'
        ),
        "KAFKA_CLUSTERS_1_NAME": "other",
        "KAFKA_CLUSTERS_1_BOOTSTRAPSERVERS": "[::1]:9093",
    }
    local, other = load_clusters(environ=env, file="")
    assert local.read_only
    assert local.properties == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "alice",
        "sasl.password": "pw",
    }
    assert other.bootstrap_servers == "[::1]:9093"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {
                "KAFKA_CLUSTERS_0_NAME": "a",
                "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": "h:1",
                "KAFKA_CLUSTERS_0_PROPERTIES_FOO_BAR": "1",
            },
            'No such configuration property: "foo.bar"',
        ),
        (
            {"KAFKA_CLUSTERS_0_NAME": "a", "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": ""},
            "bootstrap_servers is empty",
        ),
        (
            {"KAFKA_CLUSTERS_0_NAME": "a", "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": "nohostport"},
            "is not host:port",
        ),
        ({"KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": "h:1"}, "KAFKA_CLUSTERS_0_NAME is not set"),
        (
            {
                "KAFKA_CLUSTERS_0_NAME": "a",
                "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": "h:1",
                "KAFKA_CLUSTERS_0_READONLY": "maybe",
            },
            "expected true or false",
        ),
        (
            {
                "KAFKA_CLUSTERS_0_NAME": "a",
                "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": "h:1",
                "KAFKA_CLUSTERS_0_PROPERTIES_SECURITY_PROTOCOL": "bogus",
            },
            'Invalid value "bogus" for configuration property "security.protocol"',
        ),
        (
            {
                "KAFKA_CLUSTERS_0_NAME": "a",
                "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": "h:1",
                "KAFKA_CLUSTERS_0_WHATEVER": "x",
            },
            "unknown setting 'WHATEVER'",
        ),
        (
            {"KAFKA_CLUSTERS_0_NAME": "a b", "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": "h:1"},
            "must be 1-63 letters",
        ),
    ],
)
def test_bad_variables_name_what_is_wrong(env, message):
    with pytest.raises(ImproperlyConfigured) as exc:
        load_clusters(environ=env, file="")
    assert message in str(exc.value)
    assert "KAFKA_CLUSTERS_0" in str(exc.value)


def test_malformed_toml_names_the_file(tmp_path):
    file = write(tmp_path, "[[clusters]\nname = 'x'")
    with pytest.raises(ImproperlyConfigured, match="clusters.toml: malformed TOML"):
        load_clusters(environ={}, file=file)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('name = "a"\nbootstrap_servers = "h:1"\nflavour = "x"', "unknown key(s) flavour"),
        (
            'name = "a"\nbootstrap_servers = "h:1"\n[clusters.properties]\n"x.y" = "1"',
            'No such configuration property: "x.y"',
        ),
        (
            'name = "a"\nbootstrap_servers = "h:1"\n[clusters.properties]\n"p" = "${NOPE_VAR}"',
            "environment variable NOPE_VAR is not set",
        ),
        (
            'name = "a"\nbootstrap_servers = "h:1"\n[clusters.properties]\n"group.id" = "g"',
            "set by the console itself",
        ),
        ('name = "a"\nbootstrap_servers = "h:1"\nread_only = "yes"', "read_only must be"),
    ],
)
def test_bad_toml_cluster_names_the_key(tmp_path, body, message):
    file = write(tmp_path, "[[clusters]]\n" + body)
    with pytest.raises(ImproperlyConfigured) as exc:
        load_clusters(environ={}, file=file)
    assert message in str(exc.value)
    assert "#1" in str(exc.value)


def test_duplicate_names_are_refused(tmp_path):
    file = write(tmp_path, '[[clusters]]\nname = "a"\nbootstrap_servers = "h:1"\n')
    env = {"KAFKA_CLUSTERS_0_NAME": "a", "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": "h:2"}
    with pytest.raises(ImproperlyConfigured, match="defined twice"):
        load_clusters(environ=env, file=file)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"KAFKA_CLUSTERS_0_PROPERTIES_NOT_A_PROP": "1"},
            'No such configuration property: "not.a.prop"',
        ),
        ({"KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": " "}, "bootstrap_servers is empty"),
    ],
)
def test_bad_configuration_stops_the_start(env, message):
    """`manage.py check` (and so the web process and the worker) refuses to start, saying why."""
    full = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAFKA_CLUSTERS_", "CONSOLE_CLUSTERS_FILE", "DJANGO_SETTINGS"))
    }
    full.update({"KAFKA_CLUSTERS_0_NAME": "bad", "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": "h:1"})
    full.update(env)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" in result.stderr or "ImproperlyConfigured" in result.stderr


def test_malformed_toml_stops_the_start(tmp_path):
    file = write(tmp_path, "[[clusters]]\nname = ")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAFKA_CLUSTERS_", "DJANGO_SETTINGS"))
    }
    env["CONSOLE_CLUSTERS_FILE"] = file
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"{file}: malformed TOML" in result.stderr
