"""{% url %} with its answers remembered (console/templatetags/remembered_urls.py) writes
what Django's tag writes: per view name, arguments, script prefix and URL configuration,
with `as var`, escaping and the same error for a name that does not reverse."""

from __future__ import annotations

import pytest
from django.template import engines
from django.test import override_settings
from django.urls import NoReverseMatch, reverse, set_script_prefix
from django.utils.html import conditional_escape

from console.templatetags.remembered_urls import RememberedURLNode


def _render(text: str, **ctx) -> str:
    return engines["django"].from_string(text).render(ctx)


def test_the_url_tag_is_the_remembering_one_and_writes_what_reverse_does():
    t = engines["django"].from_string('{% url "topics:messages" c t %}')
    assert any(isinstance(n, RememberedURLNode) for n in t.template.nodelist)
    for c, topic in (("bench", "clicks"), ("bench", "a.b-c_d"), ("other", "x y&z")):
        want = reverse("topics:messages", args=[c, topic])
        assert t.render({"c": c, "t": topic}) == want.replace("&", "&amp;")
        assert t.render({"c": c, "t": topic}) == want.replace("&", "&amp;")  # remembered
    assert _render('{% url "console:clusters" %}') == reverse("console:clusters")
    assert _render('{% url "groups:detail" cluster="a" group="g" %}') == reverse(
        "groups:detail", kwargs={"cluster": "a", "group": "g"}
    )


def test_as_var_escaping_and_errors_are_djangos():
    out = _render(
        '{% url "topics:messages" "c" t as u %}[{{ u }}]{% autoescape off %}'
        '{% url "topics:messages" "c" t %}{% endautoescape %}',
        t="<a>",
    )
    assert out == "[/clusters/c/topics/%3Ca%3E/messages/]/clusters/c/topics/%3Ca%3E/messages/"
    assert _render('{% url "no-such-view" as u %}[{{ u }}]') == "[]"
    with pytest.raises(NoReverseMatch):
        _render('{% url "no-such-view" %}')
    # an argument that cannot be a key is reversed as Django does
    node = engines["django"].from_string('{% url "topics:messages" c t %}')
    assert node.render({"c": "bench", "t": ["x"]}) == conditional_escape(
        reverse("topics:messages", args=["bench", ["x"]])
    )


def test_the_script_prefix_and_the_url_configuration_are_part_of_the_answer():
    t = engines["django"].from_string('{% url "console:clusters" %}')
    try:
        set_script_prefix("/kafka/")
        assert t.render({}) == "/kafka/clusters/" == reverse("console:clusters")
    finally:
        set_script_prefix("/")
    assert t.render({}) == reverse("console:clusters")
    with override_settings(ROOT_URLCONF="tests.console.asgi_urls"), pytest.raises(NoReverseMatch):
        t.render({})
    assert t.render({}) == reverse("console:clusters")


def test_the_static_tag_is_the_remembering_one_and_writes_what_djangos_does():
    from django.templatetags.static import static

    from console.templatetags.remembered_urls import RememberedStaticNode

    t = engines["django"].from_string("{% static p %}")
    assert any(isinstance(n, RememberedStaticNode) for n in t.template.nodelist)
    for path in ("console/console.css", "console/a b&c.js"):
        assert t.render({"p": path}) == conditional_escape(static(path))
        assert t.render({"p": path}) == conditional_escape(static(path))  # remembered
    assert (
        _render("{% static 'console/live.js' as u %}[{{ u }}]") == f"[{static('console/live.js')}]"
    )
    with override_settings(STATIC_URL="/assets/"):
        assert _render("{% static 'console/live.js' %}") == "/assets/console/live.js"
    assert _render("{% static 'console/live.js' %}") == static("console/live.js")


def test_no_template_loads_djangos_static_or_htmx_script_over_the_remembering_ones():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    loads = re.compile(r"\{% load ([^%]*) %\}")
    offenders = [
        str(p.relative_to(root))
        for p in root.glob("**/templates/**/*.html")
        if ".venv" not in p.parts
        for m in loads.finditer(p.read_text())
        if {"static", "django_htmx"} & set(m.group(1).split())
    ]
    assert offenders == []


def test_the_htmx_script_is_django_htmxs():
    from django_htmx.jinja import htmx_script

    assert _render("{% htmx_script %}") == htmx_script()
    assert _render("{% htmx_script %}") == htmx_script()  # remembered
    with override_settings(DEBUG=True):
        assert _render("{% htmx_script %}") == htmx_script()  # with its debug script
    assert _render("{% htmx_script %}", csp_nonce="n0") == htmx_script(nonce="n0")
