"""Connect clusters in the cluster configuration, and the connector config the forms read
(no broker, no worker)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from console.clusters import ConnectCluster, load_clusters
from console.connect.services import config_diff, parse_config


def test_connect_clusters_from_toml(tmp_path):
    f = tmp_path / "clusters.toml"
    f.write_text(
        '[[clusters]]\nname = "prod"\nbootstrap_servers = "k:9092"\n'
        'connect = [{ name = "main", url = "http://connect:8083/" },'
        ' { name = "cdc", url = "https://cdc:8083" }]\n'
    )
    (cluster,) = load_clusters(environ={}, file=str(f))
    assert cluster.connect == (
        ConnectCluster("main", "http://connect:8083"),
        ConnectCluster("cdc", "https://cdc:8083"),
    )
    assert cluster.connect_cluster("cdc").url == "https://cdc:8083"
    assert cluster.connect_cluster("nope") is None


def test_connect_clusters_from_kafka_ui_variables():
    (cluster,) = load_clusters(
        environ={
            "KAFKA_CLUSTERS_0_NAME": "a",
            "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": "k:9092",
            "KAFKA_CLUSTERS_0_KAFKACONNECT_1_NAME": "second",
            "KAFKA_CLUSTERS_0_KAFKACONNECT_1_ADDRESS": "http://c2:8083",
            "KAFKA_CLUSTERS_0_KAFKACONNECT_0_NAME": "first",
            "KAFKA_CLUSTERS_0_KAFKACONNECT_0_ADDRESS": "http://c1:8083",
        },
        file="",
    )
    assert [c.name for c in cluster.connect] == ["first", "second"]


@pytest.mark.parametrize(
    ("connect", "fault"),
    [
        ('[{ name = "x", url = "connect:8083" }]', "must start with http"),
        ('[{ name = "bad name", url = "http://c:1" }]', "letters, digits"),
        ('[{ name = "x", url = "http://c:1", extra = 1 }]', "name and url only"),
        ('[{ name = "x", url = "http://a:1" }, { name = "x", url = "http://b:1" }]', "twice"),
        ('"http://c:1"', "list of"),
    ],
)
def test_a_bad_connect_entry_stops_the_start_with_a_reason(tmp_path, connect, fault):
    f = tmp_path / "clusters.toml"
    f.write_text(f'[[clusters]]\nname = "p"\nbootstrap_servers = "k:1"\nconnect = {connect}\n')
    with pytest.raises(ImproperlyConfigured, match=fault):
        load_clusters(environ={}, file=str(f))


def test_parse_config_reads_properties_and_json():
    assert parse_config("# comment\na=1\n\nb : two words\nc=x=y\n") == {
        "a": "1",
        "b": "two words",
        "c": "x=y",
    }
    assert parse_config('{"a": "1", "n": 2}') == {"a": "1", "n": "2"}
    assert parse_config('{"name": "x", "config": {"k": "v"}}') == {"k": "v"}
    with pytest.raises(ValueError, match="Line 2"):
        parse_config("a=1\nno separator here")
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_config("{broken")


def test_config_diff_masks_secrets():
    diff = config_diff(
        {"a": "1", "db.password": "old", "gone": "x"}, {"a": "2", "db.password": "new"}
    )
    assert diff == [
        ("a", "1", "2"),
        ("db.password", "******", "****** (changed)"),
        ("gone", "x", None),
    ]
