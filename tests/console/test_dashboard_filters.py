"""The humanising filters of `{% load console %}`: text, raw value in the title, edge cases."""

import datetime as dt

import pytest
from django.template import Context, Template

from console.templatetags.console import (
    human_age,
    human_bytes,
    human_config_value,
    human_duration_ms,
    human_rate,
    human_unlimited,
    iso_utc,
)


def render(source: str, **context) -> str:
    return Template("{% load console humanize %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (1048576, "1 MiB"),
        (1073741824, "1 GiB"),
        (5 * 1024**4, "5 TiB"),
        (157286400, "150 MiB"),
        (123456789, "118 MiB"),
        ("1048576", "1 MiB"),
        (-1, "unlimited"),
        (9223372036854775807, "unlimited"),
        ("abc", "abc"),
    ],
)
def test_bytes_in_binary_units(raw, shown):
    assert human_bytes(raw) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (604800000, "7 d"),
        (3600000, "1 h"),
        (5400000, "1 h 30 min"),
        (86400000 + 60000, "1 d"),
        (90000, "1 min 30 s"),
        (30000, "30 s"),
        (1500, "1.5 s"),
        (250, "250 ms"),
        (0, "0 ms"),
        ("604800000", "7 d"),
        (-1, "unlimited"),
        ("9223372036854775807", "unlimited"),
        ("soon", "soon"),
    ],
)
def test_durations_in_milliseconds_read_as_days_hours_minutes(raw, shown):
    assert human_duration_ms(raw) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [(-1, "unlimited"), (9223372036854775807, "unlimited"), (1000000, "1,000,000"), (5, "5")],
)
def test_unlimited(raw, shown):
    assert human_unlimited(raw) == shown


@pytest.mark.parametrize(
    ("name", "raw", "shown"),
    [
        ("retention.ms", "604800000", "7 d"),
        ("retention.ms", "-1", "unlimited"),
        ("max.compaction.lag.ms", "9223372036854775807", "unlimited"),
        ("segment.bytes", "1073741824", "1 GiB"),
        ("retention.bytes", "-1", "unlimited"),
        ("log.retention.hours", "168", "7 d"),
        ("log.retention.minutes", "90", "1 h 30 min"),
        ("socket.send.buffer.bytes", "-1", "OS default"),
        ("cleanup.policy", "delete", "delete"),
        ("min.insync.replicas", "2", "2"),
        ("log.retention.ms", None, "not set"),
        ("sasl.jaas.config", "(sensitive)", "(sensitive)"),
    ],
)
def test_config_value_chosen_by_the_name_suffix(name, raw, shown):
    assert human_config_value(raw, name) == shown


def test_iso_utc_from_datetimes_and_epoch_milliseconds():
    when = dt.datetime(2026, 11, 25, 19, 55, 14, 900000, tzinfo=dt.UTC)
    assert iso_utc(when) == "2026-11-25 19:55:14 UTC"
    paris = dt.timezone(dt.timedelta(hours=1))
    assert iso_utc(when.astimezone(paris)) == "2026-11-25 19:55:14 UTC"
    assert iso_utc(int(when.timestamp() * 1000)) == "2026-11-25 19:55:14 UTC"
    assert iso_utc(None) == ""


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (3, "3 s ago"),
        (59, "59 s ago"),
        (180, "3 min ago"),
        (7200, "2 h ago"),
        (86400 * 3, "3 d ago"),
        (-120, "in 2 min"),
    ],
)
def test_age(seconds, shown):
    now = dt.datetime(2026, 11, 25, 20, 0, 0, tzinfo=dt.UTC)
    assert human_age(now - dt.timedelta(seconds=seconds), now=now) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [(0, "0"), (0.04, "0.04"), (0.5, "0.5"), (12.34, "12.3"), (12.0, "12"), (1234.6, "1,235")],
)
def test_rate(raw, shown):
    assert human_rate(raw) == shown


def test_filters_keep_the_raw_value_in_the_title():
    html = render("{{ v|bytes }} {{ d|duration_ms }} {{ u|unlimited }}", v=1048576, d=3600000, u=-1)
    assert '<span class="num" title="1048576">1 MiB</span>' in html
    assert '<span class="num" title="3600000">1 h</span>' in html
    assert '<span class="num" title="-1">unlimited</span>' in html


def test_config_value_filter_takes_the_name_and_escapes():
    html = render(
        "{{ v|config_value:n }}|{{ x|config_value:'a.b' }}",
        v="604800000",
        n="retention.ms",
        x="<b>",
    )
    assert (
        html == '<span class="num" title="604800000">7 d</span>|<span class="num">&lt;b&gt;</span>'
    )


def test_time_filters_render_time_elements():
    when = dt.datetime(2026, 11, 25, 19, 55, 14, tzinfo=dt.UTC)
    html = render("{{ t|utc }} {{ t|age }}", t=when)
    assert '<time datetime="2026-11-25T19:55:14Z">2026-11-25 19:55:14 UTC</time>' in html
    assert 'title="2026-11-25 19:55:14 UTC">' in html and " ago</time>" in html


def test_intcomma_is_installed():
    assert render("{{ n|intcomma }}", n=1234567) == "1,234,567"


def test_wbr_breaks_long_names_at_their_parts_and_escapes():
    assert render("{{ n|wbr }}", n="log.retention.ms") == "log.<wbr>retention.<wbr>ms"
    assert render("{{ n|wbr }}", n="<a>_b") == "&lt;a&gt;_<wbr>b"
