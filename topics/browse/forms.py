"""The message browser's form: seek position, page size, decoders and the search filter.

Read from the query string (GET), so every view of messages is a link that can be shared.
"""

from __future__ import annotations

import datetime as dt
import time

from django import forms

from console.messages.decoding import MODES as DECODERS
from console.messages.filters import (
    FIELDS,
    KINDS,
    Condition,
    FilterError,
    MessageFilter,
    parse_partitions,
)
from topics.browse.selectors import MODES, Seek

MAX_LIMIT = 500
FUTURE_SLACK_S = 60  # clocks differ a little; a minute ahead is not "in the future"


def parse_timestamp(text: str) -> int:
    """Milliseconds since the epoch from ISO 8601 (naive means UTC) or epoch ms/s digits."""
    text = text.strip()
    if not text:
        raise forms.ValidationError("Give a date and time, e.g. 2026-11-25T14:00:00Z.")
    if text.isdigit():
        n = int(text)
        if len(text) > 15:
            raise forms.ValidationError(f"{text!r} is too large for a timestamp.")
        return n if n >= 10**11 else n * 1000  # seconds or milliseconds
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise forms.ValidationError(
            f"{text[:40]!r} is not a date and time: use 2026-11-25T14:00:00Z, or epoch milliseconds."
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        return int(when.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        raise forms.ValidationError(f"{text[:40]!r} is out of range.") from None


class BrowseForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[
            ("newest", "Newest"),
            ("oldest", "Oldest"),
            ("offset", "From offset"),
            ("timestamp", "From time"),
        ],
        initial="newest",
        required=False,
    )
    partitions = forms.CharField(
        required=False,
        max_length=200,
        help_text="all, or e.g. 0,2,5-7",
        widget=forms.TextInput(attrs={"placeholder": "all", "size": 8}),
    )
    offset = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1)
    timestamp = forms.CharField(
        required=False,
        max_length=40,
        label="From (UTC)",
        widget=forms.TextInput(attrs={"type": "datetime-local", "step": "1"}),
    )
    limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, initial=50)
    key_format = forms.ChoiceField(choices=[(m, m) for m in DECODERS], required=False)
    value_format = forms.ChoiceField(choices=[(m, m) for m in DECODERS], required=False)
    # The search filter: one condition on a field, plus ranges.
    q = forms.CharField(
        required=False,
        max_length=1000,
        strip=False,
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": 'text, a regex, or $.page == "checkout"'}),
    )
    field = forms.ChoiceField(choices=[(f, f) for f in FIELDS], required=False, initial="value")
    kind = forms.ChoiceField(choices=[(k, k) for k in KINDS], required=False, initial="contains")
    header = forms.CharField(required=False, max_length=200)
    case = forms.BooleanField(required=False, label="match case")
    until = forms.CharField(
        required=False,
        max_length=40,
        label="Until (UTC)",
        widget=forms.TextInput(attrs={"type": "datetime-local", "step": "1"}),
    )
    max_offset = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1)

    def __init__(self, *args, partition_count: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.partition_count = partition_count

    def clean_partitions(self):
        text = self.cleaned_data.get("partitions", "")
        if text.strip().lower() == "all":
            return None
        try:
            return parse_partitions(text, count=self.partition_count)
        except FilterError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_timestamp(self):
        text = self.cleaned_data.get("timestamp", "")
        if not text.strip():
            return None
        ms = parse_timestamp(text)
        if ms > (time.time() + FUTURE_SLACK_S) * 1000:
            raise forms.ValidationError(
                "That time is in the future: no message can be that new yet."
            )
        return ms

    def clean_until(self):
        text = self.cleaned_data.get("until", "")
        return parse_timestamp(text) if text.strip() else None

    def clean(self):
        data = super().clean()
        mode = data.get("mode") or "newest"
        data["mode"] = mode if mode in MODES else "newest"
        if data["mode"] == "offset" and data.get("offset") is None and "offset" not in self.errors:
            self.add_error("offset", "Give the offset to start from.")
        if (
            data["mode"] == "timestamp"
            and data.get("timestamp") is None
            and "timestamp" not in self.errors
        ):
            self.add_error("timestamp", "Give the time to start from.")
        q = data.get("q") or ""
        if q.strip():
            try:
                data["condition"] = Condition.build(
                    data.get("field") or "value",
                    data.get("kind") or "contains",
                    q,
                    header=(data.get("header") or "").strip(),
                    ignore_case=not data.get("case"),
                )
            except FilterError as exc:
                self.add_error("q", str(exc))
        else:
            data["condition"] = None
        return data

    # What the views use -----------------------------------------------------------

    def seek(self) -> Seek:
        d = self.cleaned_data
        return Seek(
            mode=d["mode"],
            partitions=d.get("partitions"),
            offset=d.get("offset"),
            timestamp_ms=d.get("timestamp"),
            limit=d.get("limit") or 50,
        )

    def message_filter(self) -> MessageFilter:
        d = self.cleaned_data
        cond = d.get("condition")
        return MessageFilter(
            conditions=(cond,) if cond else (),
            partitions=d.get("partitions"),
            max_offset=d.get("max_offset"),
            max_timestamp_ms=d.get("until"),
        )

    @property
    def searching(self) -> bool:
        d = self.cleaned_data
        return bool(
            d.get("condition") or d.get("until") is not None or d.get("max_offset") is not None
        )
