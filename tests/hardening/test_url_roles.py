"""Every URL in the URL conf, walked as anonymous, viewer, operator and admin.

Each URL name needs a rule below: the role its methods need. A new URL without a rule fails
`test_every_url_has_a_rule`, so access control is decided, not forgotten. The walk checks
the server side (no hidden buttons involved): below the role -> 403 (anonymous -> log-in),
at or above -> neither 403 nor 500. POSTs without a CSRF token are refused.
"""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from console.models import Job

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]

ROLES = [None, "viewer", "operator", "admin"]
RANK = {r: i for i, r in enumerate(ROLES)}
PUBLIC = "public"

# URL name -> {method: role needed}. PUBLIC: no log-in needed.
RULES: dict[str, dict[str, str]] = {
    "login": {"GET": PUBLIC, "POST": PUBLIC},
    "logout": {"POST": PUBLIC},
    # OIDC single sign-on (a 404 while no provider is configured, as in this walk).
    "oidc_login": {"GET": PUBLIC},
    "oidc_callback": {"GET": PUBLIC},
    "console:home": {"GET": "viewer"},
    "console:clusters": {"GET": "viewer"},
    "console:cluster": {"GET": "viewer"},
    "console:broker": {"GET": "viewer", "POST": "admin"},
    "console:worker_check": {"POST": "viewer"},
    "console:audit": {"GET": "admin"},
    "console:job": {"GET": "viewer"},
    "console:job_cancel": {"POST": "viewer"},
    "topics:list": {"GET": "viewer"},
    "topics:create": {"GET": "operator", "POST": "operator"},
    "topics:detail": {"GET": "viewer"},
    "topics:configs": {"GET": "viewer"},
    "topics:config_edit": {"GET": "admin", "POST": "admin"},
    "topics:skew": {"GET": "viewer"},
    "topics:operations": {"GET": "admin"},
    "topics:delete": {"GET": "admin", "POST": "admin"},
    "topics:partitions_add": {"GET": "admin", "POST": "admin"},
    "topics:purge": {"GET": "admin", "POST": "admin"},
    "topics:messages": {"GET": "viewer"},
    "topics:messages_search": {"GET": "operator"},
    "topics:messages_download": {"GET": "operator"},
    "topics:message_record": {"GET": "operator"},
    "topics:tail": {"GET": "operator"},
    "topics:produce": {"GET": "operator"},
    "topics:produce_preview": {"GET": "viewer"},
    "topics:produce_message": {"POST": "operator"},
    "topics:produce_generate": {"POST": "operator"},
    "topics:replay": {"GET": "operator"},
    "topics:replay_message": {"GET": "operator", "POST": "operator"},
    "topics:replay_copy": {"POST": "operator"},
    "topics:replay_redrive": {"POST": "operator"},
    "topics:replay_import": {"POST": "operator"},
    "topics:replay_confirm": {"POST": "operator"},
    "groups:list": {"GET": "viewer"},
    "groups:for_topic": {"GET": "viewer"},
    "groups:detail": {"GET": "viewer"},
    "groups:reset": {"GET": "operator", "POST": "operator"},
    "groups:undo": {"GET": "operator", "POST": "operator"},
    "groups:delete": {"GET": "admin", "POST": "admin"},
    "schemas:list": {"GET": "viewer"},
    "schemas:create": {"GET": "operator", "POST": "operator"},
    "schemas:global_compatibility": {"GET": "admin", "POST": "admin"},
    "schemas:for_topic": {"GET": "viewer"},
    "schemas:detail": {"GET": "viewer"},
    "schemas:usage": {"GET": "viewer"},
    "schemas:register": {"GET": "operator", "POST": "operator"},
    "schemas:compatibility": {"GET": "admin", "POST": "admin"},
    "schemas:delete": {"GET": "admin", "POST": "admin"},
    "connect:index": {"GET": "viewer"},
    "connect:list": {"GET": "viewer"},
    "connect:create": {"GET": "operator", "POST": "operator"},
    "connect:detail": {"GET": "viewer"},
    "connect:edit": {"GET": "admin", "POST": "admin"},
    "connect:task_restart": {"GET": "operator", "POST": "operator"},
    "connect:action": {"GET": "operator", "POST": "operator"},  # the sample verb: pause
    "acls:list": {"GET": "viewer"},
    "acls:create": {"GET": "admin", "POST": "admin"},
    "acls:delete": {"GET": "admin", "POST": "admin"},
    "acls:principal": {"GET": "viewer"},
    "acls:topic": {"GET": "viewer"},
    # The JSON read API (topics/api.py): message contents, as the browser's.
    "api_topic_messages": {"GET": "operator"},
}


def walk(patterns, prefix="", ns=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(
                p.url_patterns,
                prefix + str(p.pattern),
                ns + (f"{p.namespace}:" if p.namespace else ""),
            )
        elif isinstance(p, URLPattern):
            yield ns + (p.name or f"<unnamed {prefix}{p.pattern}>"), prefix + str(p.pattern)


# Probes for load balancers and monitoring: no session role applies (health is open, /metrics
# takes a token or a network); tests/console/test_health.py and test_metrics.py hold them.
PROBES = {"healthz", "readyz", "metrics"}
URLS = {n: u for n, u in walk(get_resolver().url_patterns) if n not in PROBES}


def test_every_url_has_a_rule():
    missing = sorted(set(URLS) - set(RULES))
    assert not missing, f"add an access rule to tests/hardening/test_url_roles.py for {missing}"
    stale = sorted(set(RULES) - set(URLS))
    assert not stale, f"rules for URLs that no longer exist: {stale}"


@pytest.fixture
def samples(kafka, topic):
    """Concrete values for every URL argument name."""
    job = Job.objects.create(kind="walk", cluster="local")
    return {
        "cluster": "local",
        "topic": topic,
        "broker_id": 1,
        "partition": 0,
        "job_id": job.id,
        "group": "walker-group",
        "group_id": "walker-group",
        "search_id": uuid.uuid4().hex,
        "audit_id": 999999,
        "subject": "walker-value",
        "connect": "walker-connect",
        "name": "walker-connector",
        "verb": "pause",
        "task": 0,
    }


def url_for(pattern: str, samples: dict) -> str:
    import re

    def sub(m):
        name = m.group(2)
        if name not in samples:
            pytest.fail(f"no sample value for URL argument {name!r} in {pattern}: add one")
        return str(samples[name])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", sub, pattern)


CASES = [
    (name, method, role)
    for name, rules in sorted(RULES.items())
    for method in rules
    for role in ROLES
]


@pytest.mark.parametrize(("name", "method", "role"), CASES)
def test_url_role(name, method, role, samples, make_user):
    if name not in URLS:
        pytest.fail(f"{name} has a rule but no URL")
    url = url_for(URLS[name], samples)
    client = Client()
    if role:
        client.force_login(make_user(role))
    response = client.get(url) if method == "GET" else client.post(url, {})
    needed = RULES[name][method]
    status = response.status_code
    assert status != 500, f"{method} {url} as {role}: 500"
    if needed == PUBLIC:
        assert status != 403, f"{method} {url} is public but gave 403"
    elif role is None:
        assert status == 302 and "/accounts/login/" in response.url, (
            f"{method} {url} as anonymous: {status}, not a redirect to log in"
        )
    elif RANK[role] < RANK[needed]:
        assert status == 403, f"{method} {url} as {role} (needs {needed}): {status}"
    else:
        assert status != 403, f"{method} {url} as {role} (needs {needed}): refused"
        assert not (status == 302 and "/accounts/login/" in response.url)


@pytest.mark.parametrize(
    "name", sorted(n for n, rules in RULES.items() if "POST" in rules and n != "login")
)
def test_post_without_csrf_token_is_refused(name, samples, make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin"))
    response = client.post(url_for(URLS[name], samples), {})
    assert response.status_code == 403
    assert b"CSRF" in response.content
