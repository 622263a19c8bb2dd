"""The message browser's form: seek position, page size, decoders and the search filter.

Read from the query string (GET), so every view of messages is a link that can be shared.
"""

from __future__ import annotations

import datetime as dt
import time

from django import forms

from console.forms import DATETIME_HELP, UtcDateTimeField, parse_utc
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
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _ms(when: dt.datetime | None, typed) -> int | None:
    """A cleaned time as epoch milliseconds (digits typed are taken exactly)."""
    if when is None:
        return None
    return (
        parse_timestamp(str(typed))
        if str(typed or "").strip().isdigit()
        else ((when - EPOCH) // dt.timedelta(milliseconds=1))
    )


def parse_timestamp(text: str) -> int:
    """Milliseconds since the epoch from a UTC time as pages show it (2026-11-25 19:55:14),
    ISO 8601 (naive means UTC) or epoch ms/s digits."""
    when = parse_utc(text)  # checks digits too: at most 15, within the calendar
    digits = text.strip()
    if digits.isdigit():  # exact, with no round trip through a float
        return int(digits) if int(digits) >= 10**11 else int(digits) * 1000
    return (when - EPOCH) // dt.timedelta(milliseconds=1)


# The choices as a person reads them; the values stay the URL's words.
DECODER_LABELS = {
    "auto": "Detect (auto)",
    "text": "Text",
    "json": "JSON",
    "hex": "Hex",
    "base64": "Base64",
    "schema": "Schema registry",
}
FIELD_LABELS = {"value": "the value", "key": "the key", "header": "a header", "any": "anywhere"}
KIND_LABELS = {"contains": "contains", "regex": "regular expression", "jsonpath": "JSON path"}


class BrowseForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[
            ("newest", "Newest"),
            ("oldest", "Oldest"),
            ("offset", "An offset"),
            ("timestamp", "A time"),
        ],
        initial="newest",
        required=False,
        label="Start from",
        # console.js shows the offset or time field only for the mode that needs it.
        widget=forms.Select(attrs={"data-mode-select": "mode"}),
    )
    partitions = forms.CharField(
        required=False,
        max_length=200,
        label="Partitions",
        help_text="All, or a list like 0,2,5-7.",
        widget=forms.TextInput(attrs={"placeholder": "all", "size": 8}),
    )
    offset = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2**63 - 1,
        label="Offset",
        help_text="The first offset shown on each chosen partition.",
    )
    timestamp = UtcDateTimeField(
        required=False,
        label="Time (UTC)",
        help_text=f"{DATETIME_HELP} The first message at or after it.",
    )
    limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_LIMIT,
        initial=50,
        label="Messages per page",
        widget=forms.NumberInput(attrs={"placeholder": "50"}),
    )
    key_format = forms.ChoiceField(
        choices=[(m, DECODER_LABELS.get(m, m)) for m in DECODERS],
        required=False,
        label="Show keys as",
    )
    value_format = forms.ChoiceField(
        choices=[(m, DECODER_LABELS.get(m, m)) for m in DECODERS],
        required=False,
        label="Show values as",
    )
    # The search filter: one condition on a field, plus ranges.
    q = forms.CharField(
        required=False,
        max_length=1000,
        strip=False,
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": 'text, a regex, or $.page == "checkout"'}),
    )
    field = forms.ChoiceField(
        choices=[(f, FIELD_LABELS.get(f, f)) for f in FIELDS],
        required=False,
        initial="value",
        label="In",
    )
    kind = forms.ChoiceField(
        choices=[(k, KIND_LABELS.get(k, k)) for k in KINDS],
        required=False,
        initial="contains",
        label="As",
    )
    header = forms.CharField(required=False, max_length=200, label="Header name")
    case = forms.BooleanField(required=False, label="Match case")
    until = UtcDateTimeField(
        required=False,
        label="Until (UTC)",
        help_text="Stop at messages newer than this time.",
    )
    max_offset = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2**63 - 1,
        label="Up to offset",
        help_text="Stop at this offset on each partition.",
    )

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
        ms = _ms(self.cleaned_data.get("timestamp"), self.data.get("timestamp"))
        if ms is not None and ms > (time.time() + FUTURE_SLACK_S) * 1000:
            raise forms.ValidationError(
                "That time is in the future: no message can be that new yet."
            )
        return ms

    def clean_until(self):
        return _ms(self.cleaned_data.get("until"), self.data.get("until"))

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


class _SharedFields(dict):
    """A form's fields that its instances share: Django deep-copies every field (and widget
    and choices) for each form made, a third of a millisecond for this one, made on every
    messages page; nothing changes a BrowseForm's fields after the class is made (tested),
    so each form gets its own dict of the same fields."""

    def __deepcopy__(self, memo: dict) -> dict:
        return dict(self)


BrowseForm.base_fields = _SharedFields(BrowseForm.base_fields)
