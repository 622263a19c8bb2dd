"""Form pieces every app shares: the date-time input, in the form every page shows times.

Pages show `2026-11-25 19:55:14 UTC`; inputs take that (with or without " UTC"), ISO 8601
(`2026-11-25T19:55:14Z`, an offset such as `+01:00`, minutes only) and epoch milliseconds
or seconds. A time without a zone is UTC, never the browser's or the server's local time.
A plain text input, not `datetime-local`: that one shows the browser's locale (12-hour
clocks, day-first dates) and cannot say UTC.
"""

from __future__ import annotations

import datetime as dt
import re

from django import forms

EXAMPLE = "2026-11-25 19:55:14"
DATETIME_HELP = f"UTC, 24-hour: {EXAMPLE} (also {EXAMPLE.replace(' ', 'T')}Z)."
_UTC_SUFFIX = re.compile(r"\s*(?:UTC|GMT|Z)$", re.IGNORECASE)


def parse_utc(text: str) -> dt.datetime:
    """An aware UTC datetime from `text`; ValidationError in words a person can act on."""
    text = (text or "").strip()
    if not text:
        raise forms.ValidationError(f"Give a date and time, e.g. {EXAMPLE}.")
    if text.isdigit():
        if len(text) > 15:
            raise forms.ValidationError(f"{text!r} is too large for a timestamp.")
        n = int(text)
        ms = n if n >= 10**11 else n * 1000  # seconds or milliseconds since the epoch
        try:
            return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise forms.ValidationError(f"{text!r} is out of range.") from None
    iso = _UTC_SUFFIX.sub("+00:00", text)
    iso = re.sub(r"^(\d{4}-\d\d-\d\d)\s+", r"\1T", iso)
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise forms.ValidationError(
            f"{text[:40]!r} is not a date and time: write it as {EXAMPLE} (UTC, 24-hour)."
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise forms.ValidationError(f"{text[:40]!r} is out of range.") from None


def format_utc(when: dt.datetime) -> str:
    """The input's own form of a time: `2026-11-25 19:55:14`."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


class UtcDateTimeInput(forms.TextInput):
    """A text input for a UTC time; a datetime value shows as `2026-11-25 19:55:14`."""

    def __init__(self, attrs=None) -> None:
        base = {
            "placeholder": EXAMPLE,
            "autocomplete": "off",
            "spellcheck": "false",
            "size": 20,
            "class": "utc-time",
        }
        super().__init__({**base, **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, dt.datetime):
            return format_utc(value)
        return super().format_value(value)


class UtcDateTimeField(forms.CharField):
    """A time in UTC (see the module docstring); cleans to an aware UTC datetime or None."""

    widget = UtcDateTimeInput

    MAX_LENGTH = 40

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("help_text", DATETIME_HELP)
        super().__init__(**kwargs)  # no max_length: its validator would see the datetime

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "maxlength": str(self.MAX_LENGTH)}

    def to_python(self, value):
        text = super().to_python(value)
        if len(text) > self.MAX_LENGTH:
            raise forms.ValidationError(f"A time is at most {self.MAX_LENGTH} characters.")
        return parse_utc(text) if text else None

    def bound_data(self, data, initial):
        """What the input shows after a submit: the time as pages show it, whatever form
        it was typed in (text that is no time stays as typed, beside its error)."""
        try:
            return format_utc(parse_utc(data)) if data and str(data).strip() else data
        except forms.ValidationError:
            return data


class AuditFilterForm(forms.Form):
    """The audit log's filters (GET): each narrows the list; empty ones are ignored."""

    cluster = forms.ChoiceField(required=False, label="Cluster")
    action = forms.ChoiceField(required=False, label="Action")
    username = forms.CharField(required=False, max_length=150, label="User")
    outcome = forms.ChoiceField(required=False, label="Outcome")
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Text",
        help_text="In the target, the parameters and the details.",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "topic, group, reason…"}),
    )

    def __init__(self, *args, clusters=(), actions=(), outcomes=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A cluster or action no longer in the choices (renamed, removed) still filters.
        for name, values, every in (
            ("cluster", clusters, "every cluster"),
            ("action", actions, "every action"),
        ):
            current = (self.data.get(name) or "").strip() if self.is_bound else ""
            values = list(values) + (
                [(current, current)] if current and current not in {v for v, _ in values} else []
            )
            self.fields[name].choices = [("", every), *values]
        self.fields["outcome"].choices = [("", "any outcome"), *outcomes]


class ConfigChangeForm(forms.Form):
    """One config to change (topic or broker): a new value, or `reset` to remove the one
    set. Subclasses declare the fields (`name`, `value`, `reset`) with their own words, and
    say which names they take and what their errors say."""

    name_pattern = r"[a-z0-9.]+"
    both_error = "Either give a new value or remove the set one, not both."
    neither_error = "Give the new value, or remove the set one."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not re.fullmatch(self.name_pattern, name):
            raise forms.ValidationError("Config names are lower-case words joined by dots.")
        return name

    def clean(self):
        data = super().clean()
        if data.get("reset") and data.get("value"):
            self.add_error("value", self.both_error)
        elif not data.get("reset") and not data.get("value"):
            self.add_error("value", self.neither_error)
        return data

    @property
    def new_value(self) -> str | None:
        """The value to set; None removes the one set."""
        return None if self.cleaned_data["reset"] else self.cleaned_data["value"]


class SeenValueConfirm:
    """Mixed into a ConfigChangeForm: the confirmation of a previewed change carries the
    value the preview saw (`seen_value`), so a change made since then is refused."""

    no_preview = "This change was not previewed: preview it first, then confirm."

    def clean(self):
        data = super().clean()
        if "seen_value" not in self.data:
            raise forms.ValidationError(self.no_preview)
        data["seen_value"] = self.data["seen_value"]
        return data
