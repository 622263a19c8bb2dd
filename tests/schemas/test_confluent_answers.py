"""Confluent's registry gives its reasons with verbose=true, Apicurio (the tests' real
registry) does not: this stub answers the few requests of a check the way Confluent's
documentation shows, to prove the registry's own reasons are what the page shows then."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from console.clusters import Cluster, all_clusters, reset_clusters
from tests.schemas.conftest import avro

pytestmark = pytest.mark.django_db

REASON = (
    "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'age' at path "
    "'/fields/1' in the new schema has no default value and is missing in the old schema'}"
)
ANSWERS = {
    ("GET", "/subjects/users-value/versions"): (200, [1]),
    ("GET", "/config/users-value?defaultToGlobal=true"): (200, {"compatibilityLevel": "BACKWARD"}),
    ("POST", "/compatibility/subjects/users-value/versions/latest?verbose=true"): (
        200,
        {"is_compatible": False, "messages": [REASON]},
    ),
    ("POST", "/subjects/users-value"): (404, {"error_code": 40403, "message": "Schema not found"}),
}


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body = ANSWERS.get((self.command, self.path), (404, {"error_code": 40401}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def confluent_like():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    saved = all_clusters()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    reset_clusters([*saved, Cluster("cf", "127.0.0.1:1", schema_registry_url=url)])
    yield url
    reset_clusters(saved)
    server.shutdown()


def test_the_registrys_own_reasons_are_shown(confluent_like, client_for):
    c = client_for("operator")
    bad = avro("id", ("age", "int", ...))
    r = c.post(
        reverse("schemas:register", args=["cf", "users-value"]),
        {"step": "check", "schema_type": "AVRO", "schema": bad},
    )
    page = r.content.decode()
    assert r.status_code == 409
    reasons = page.split('<ul id="registry-reasons">')[1].split("</ul>")[0]
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in reasons and "has no default value" in reasons
    assert 'id="reasons"' not in page  # no need for the console's own reading
    assert 'id="register-confirm"' not in page
