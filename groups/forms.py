"""Group forms: the offset reset (validated before any preview), the delete confirmation."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from console.forms import DATETIME_HELP, UtcDateTimeField
from console.messages.filters import FilterError, parse_partitions
from groups.services import ResetSpec

# The targets as a person chooses them; the values stay the URL's words.
TARGET_CHOICES = [
    ("earliest", "Earliest: the log start (re-read everything kept)"),
    ("latest", "Latest: the log end (skip everything not yet read)"),
    ("timestamp", "A point in time"),
    ("offset", "An offset"),
    ("shift", "Shift by N from the committed offset"),
    ("copy", "Copy another group's offsets"),
]

# The field each target needs (console.js shows it alone; without script all show), and
# what to say when it is empty.
TARGET_FIELDS = {
    "offset": ("offset", "Give the offset to move to."),
    "shift": ("shift", "Give the number of records to shift by, e.g. -100 or 50."),
    "timestamp": ("timestamp", "Give the time to move to, e.g. 2026-11-25 19:55:14."),
    "copy": ("source_group", "Name the group to copy the offsets from."),
}


class ResetForm(forms.Form):
    """What to reset, said explicitly: an empty topic or partition list never means "all"."""

    topic = forms.CharField(
        required=False,
        max_length=249,
        label="Topic",
        help_text="The topic whose offsets move.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    all_topics = forms.BooleanField(required=False, label="All topics the group has offsets on")
    partitions = forms.CharField(
        required=False,
        max_length=2000,
        label="Partitions",
        help_text="A list like 0,2,5-7.",
        widget=forms.TextInput(attrs={"placeholder": "0,2,5-7", "size": 12}),
    )
    all_partitions = forms.BooleanField(required=False, label="All partitions")
    target = forms.ChoiceField(
        choices=TARGET_CHOICES,
        label="Move the offsets to",
        # console.js shows only the field this target needs.
        widget=forms.Select(attrs={"data-mode-select": "target"}),
    )
    offset = forms.IntegerField(
        required=False,
        min_value=0,
        label="Offset",
        help_text="The same offset on every chosen partition, kept within its log start and end.",
    )
    shift = forms.IntegerField(
        required=False,
        label="Shift by",
        help_text="From each partition's committed offset: -N re-reads N records, +N skips N.",
    )
    timestamp = UtcDateTimeField(
        required=False,
        label="Time (UTC)",
        help_text=f"{DATETIME_HELP} Each partition moves to its first record at or after it.",
    )
    source_group = forms.CharField(
        required=False,
        label="Copy from group",
        help_text="The group whose committed offsets this group takes, partition by partition.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean(self):
        data = super().clean()
        target = data.get("target")
        need, missing = TARGET_FIELDS.get(target, ("", ""))
        if need and data.get(need) in (None, "") and need not in self.errors:
            self.add_error(need, missing)
        when = data.get("timestamp")
        if target == "timestamp" and when and when > timezone.now() + dt.timedelta(minutes=1):
            self.add_error("timestamp", "That time is in the future: no record is there yet.")
        self._clean_where(data)
        return data

    def _clean_where(self, data: dict) -> None:
        """Topic and partitions, each chosen explicitly (a list, or its "all" box)."""
        topic = (data.get("topic") or "").strip()
        data["topic"] = topic
        raw = (data.get("partitions") or "").strip()
        data["partition_set"] = None
        if data.get("all_topics"):
            if topic:
                self.add_error("topic", "Either name a topic or tick “all topics”, not both.")
            if raw:
                self.add_error(
                    "partitions",
                    "With all topics, every partition the group has offsets on moves: "
                    "choose one topic to pick partitions.",
                )
            return
        if not topic:
            self.add_error(
                "topic",
                "Choose a topic, or tick “all topics the group has offsets on”: an empty "
                "topic never means all of them.",
            )
            if raw:
                self.add_error("partitions", "Choose a topic to pick its partitions.")
            return
        if data.get("all_partitions"):
            if raw:
                self.add_error("partitions", "Either list partitions or tick “all partitions”.")
            return
        if not raw:
            self.add_error(
                "partitions",
                "Choose the partitions: a list like 0,2,5-7, or tick “all partitions”.",
            )
            return
        try:
            data["partition_set"] = parse_partitions(raw)
        except FilterError as exc:
            self.add_error("partitions", str(exc).removeprefix("partitions: "))

    def spec(self) -> ResetSpec:
        d = self.cleaned_data
        value = {
            "offset": d.get("offset"),
            "shift": d.get("shift"),
            "timestamp": int(d["timestamp"].timestamp() * 1000) if d.get("timestamp") else None,
        }.get(d["target"])
        return ResetSpec(
            target=d["target"],
            topic="" if d.get("all_topics") else d["topic"],
            partitions=d.get("partition_set"),
            value=value,
            source_group=(d.get("source_group") or "").strip(),
        )


class GroupDeleteForm(forms.Form):
    """The last step of a group delete: the typed id, and the preview's offsets digest."""

    # Not stripped: a group id may end in a space, and only the exact id confirms.
    confirm = forms.CharField(
        label="Type the group id to confirm",
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    seen_offsets = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, group: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.group = group

    def clean_confirm(self) -> str:
        if self.cleaned_data["confirm"] != self.group:
            raise forms.ValidationError(f"Type {self.group!r} exactly to delete the group.")
        return self.cleaned_data["confirm"]

    def clean(self):
        data = super().clean()
        if not data.get("seen_offsets"):
            raise forms.ValidationError(
                "This confirmation carries no preview: open the preview and confirm from there."
            )
        return data
