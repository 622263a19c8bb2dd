"""Group forms: the offset reset (validated before any preview), the delete confirmation."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from console.messages.filters import FilterError, parse_partitions
from groups.services import TARGETS, ResetSpec


class ResetForm(forms.Form):
    topic = forms.CharField(
        required=False, help_text="Empty: every topic the group has offsets on."
    )
    partitions = forms.CharField(required=False, help_text="e.g. 0,2,4-5; empty: all of the topic.")
    target = forms.ChoiceField(choices=[(t, t) for t in TARGETS])
    offset = forms.IntegerField(required=False, min_value=0, help_text="for target offset")
    shift = forms.IntegerField(required=False, help_text="for target shift: +N forward, -N back")
    timestamp = forms.DateTimeField(
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
        help_text="for target timestamp (UTC): the first record at or after it",
    )
    source_group = forms.CharField(required=False, help_text="for target copy")

    def clean(self):
        data = super().clean()
        target = data.get("target")
        need = {
            "offset": "offset",
            "shift": "shift",
            "timestamp": "timestamp",
            "copy": "source_group",
        }.get(target)
        if need and data.get(need) in (None, ""):
            self.add_error(need, f"Target {target} needs this value.")
        if target == "timestamp" and data.get("timestamp"):
            ts = data["timestamp"]
            if timezone.is_naive(ts):
                ts = ts.replace(tzinfo=dt.UTC)
            if ts > timezone.now() + dt.timedelta(minutes=1):
                self.add_error("timestamp", "That time is in the future: no record is there yet.")
            data["timestamp"] = ts
        raw = data.get("partitions", "")
        if raw and not data.get("topic"):
            self.add_error("partitions", "Choose a topic to pick its partitions.")
        try:
            data["partition_set"] = parse_partitions(raw or "")
        except FilterError as exc:
            self.add_error("partitions", str(exc))
        return data

    def spec(self) -> ResetSpec:
        d = self.cleaned_data
        value = {
            "offset": d.get("offset"),
            "shift": d.get("shift"),
            "timestamp": int(d["timestamp"].timestamp() * 1000) if d.get("timestamp") else None,
        }.get(d["target"])
        return ResetSpec(
            target=d["target"],
            topic=(d.get("topic") or "").strip(),
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
