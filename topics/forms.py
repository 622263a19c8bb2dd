"""Forms for topic operations; each error says what to change."""

from __future__ import annotations

import re

from django import forms

from console.forms import ConfigChangeForm, SeenValueConfirm
from console.messages.filters import FilterError, parse_partitions

LEGAL = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_NAME = 249
MAX_PARTITIONS = 10_000


def topic_name_errors(name: str) -> list[str]:
    """Kafka's own rules for a topic name (org.apache.kafka.common.internals.Topic)."""
    errors = []
    if not name:
        return ["Give the topic a name."]
    if name in (".", ".."):
        errors.append('A topic cannot be named "." or "..".')
    if len(name) > MAX_NAME:
        errors.append(f"Topic names are at most {MAX_NAME} characters; this one has {len(name)}.")
    bad = sorted(set(re.sub(r"[a-zA-Z0-9._-]", "", name)))
    if bad:
        shown = " ".join(repr(c) for c in bad[:10])
        errors.append(f"Only letters, digits, '.', '_' and '-' are allowed; not {shown}.")
    return errors


def collision(name: str, existing: set[str]) -> str | None:
    """The existing topic `name` collides with: '.' and '_' are the same in metric names."""
    folded = name.replace(".", "_")
    return next((t for t in existing if t != name and t.replace(".", "_") == folded), None)


def parse_configs(text: str) -> dict[str, str]:
    """`key=value` lines (blank lines and # comments ignored)."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch(r"[a-z0-9.]+", key):
            raise forms.ValidationError(f"Line {n}: write key=value, e.g. retention.ms=86400000.")
        out[key] = value
    return out


class TopicCreateForm(forms.Form):
    name = forms.CharField(max_length=400, strip=True, label="Topic name")
    partitions = forms.IntegerField(min_value=1, max_value=MAX_PARTITIONS, label="Partitions")
    replication = forms.IntegerField(min_value=1, max_value=32, label="Replication factor")
    configs = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "cleanup.policy=compact\nretention.ms=604800000"}
        ),
        label="Topic configs",
        help_text="Optional topic configs, one key=value per line.",
    )

    def __init__(
        self, *args, existing: set[str] | None = None, live_brokers: int | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.existing = existing or set()
        self.live_brokers = live_brokers

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        errors = topic_name_errors(name)
        if errors:
            raise forms.ValidationError(errors)
        if name in self.existing:
            raise forms.ValidationError(f"Topic {name!r} already exists.")
        other = collision(name, self.existing)
        if other:
            raise forms.ValidationError(
                f"{name!r} collides with the existing topic {other!r}: Kafka treats '.' and '_' "
                "alike in metric names and refuses the pair."
            )
        return name

    def clean_replication(self) -> int:
        rf = self.cleaned_data["replication"]
        if self.live_brokers is not None and rf > self.live_brokers:
            raise forms.ValidationError(
                f"Replication factor {rf} needs {rf} brokers; {self.live_brokers} are online."
            )
        return rf

    def clean_configs(self) -> dict[str, str]:
        return parse_configs(self.cleaned_data.get("configs", ""))

    @property
    def name_warning(self) -> str:
        name = self.data.get("name", "")
        if "." in name or "_" in name:
            return (
                "Names with '.' or '_' work, but avoid mixing them: 'a.b' and 'a_b' "
                "cannot both exist."
            )
        return ""


NO_PREVIEW = "This confirmation carries no preview: open the preview and confirm from there."


def seen_partitions(data) -> int:
    """The partition count the preview showed, posted with its confirmation; refuses a
    confirmation without one."""
    raw = data.get("seen_partitions", "")
    if not str(raw).isdigit():
        raise forms.ValidationError(NO_PREVIEW)
    return int(raw)


class TypedNameForm(forms.Form):
    """The last step of an irreversible operation: the user types the name of what goes."""

    confirm = forms.CharField(
        required=False,
        strip=False,
        max_length=400,
        label="Type the topic's name to confirm",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, name: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.name = name

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"]
        if not typed:
            raise forms.ValidationError(f"Type the topic's name, {self.name}, to confirm.")
        if typed != self.name:
            raise forms.ValidationError(f"That is not the topic's name: type {self.name} exactly.")
        return typed


class TopicDeleteForm(TypedNameForm):
    def clean(self):
        data = super().clean()
        data["seen_partitions"] = seen_partitions(self.data)
        return data


class PartitionsAddForm(forms.Form):
    total = forms.IntegerField(
        label="New partition count",
        min_value=1,
        max_value=MAX_PARTITIONS,
        error_messages={"required": "Give the partition count the topic should have."},
    )


class PartitionsConfirmForm(PartitionsAddForm):
    """The previewed count, re-checked against the count the preview saw."""

    def clean(self):
        data = super().clean()
        seen = data["seen_partitions"] = seen_partitions(self.data)
        if data.get("total") is not None and data["total"] <= seen:
            self.add_error(
                "total", f"The topic has {seen} partitions; Kafka can only add, so give more."
            )
        return data


class ConfigEditForm(ConfigChangeForm):
    name = forms.CharField(
        max_length=200,
        label="Config",
        error_messages={"required": "Name the config to change, e.g. retention.ms."},
    )
    value = forms.CharField(required=False, max_length=10_000, label="New value")
    reset = forms.BooleanField(required=False, label="Remove the override (back to default)")

    both_error = "Either give a new value or remove the override, not both."
    neither_error = "Give the new value, or tick “remove the override”."


class ConfigConfirmForm(SeenValueConfirm, ConfigEditForm):
    """The previewed change, refused when the value it replaces is no longer the one seen."""

    no_preview = NO_PREVIEW


class PurgeForm(forms.Form):
    """Which records go: explicit partitions (or all, ticked) and an offset (or all, ticked)."""

    partitions = forms.CharField(
        required=False,
        max_length=2000,
        label="Partitions",
        help_text="A list like 0,2,5-7.",
        widget=forms.TextInput(attrs={"placeholder": "0,2,5-7", "size": 12}),
    )
    all_partitions = forms.BooleanField(required=False, label="All partitions")
    offset = forms.IntegerField(
        required=False,
        min_value=0,
        label="Below offset",
        help_text="Records before this offset go; it stays the first one kept.",
    )
    all_records = forms.BooleanField(required=False, label="All records")

    def clean(self):
        data = super().clean()
        raw = (data.get("partitions") or "").strip()
        if data.get("all_partitions") and raw:
            self.add_error("partitions", "Either list partitions or tick “all partitions”.")
        elif not data.get("all_partitions"):
            if not raw:
                self.add_error(
                    "partitions", "Choose the partitions: a list like 0,2,5-7, or tick “all”."
                )
            else:
                try:
                    data["partition_set"] = parse_partitions(raw)
                except FilterError as exc:
                    self.add_error("partitions", str(exc).removeprefix("partitions: "))
        if "offset" in self.errors:
            return data
        if data.get("all_records") and data.get("offset") is not None:
            self.add_error("offset", "Either give an offset or tick “all records”.")
        elif not data.get("all_records") and data.get("offset") is None:
            self.add_error("offset", "Give the offset to delete below, or tick “all records”.")
        return data

    @property
    def plan_args(self) -> dict:
        """The choice as topic_purge_plan takes it (None: all)."""
        d = self.cleaned_data
        return {
            "partitions": None if d.get("all_partitions") else d["partition_set"],
            "offset": None if d.get("all_records") else d["offset"],
        }


class PurgeConfirmForm(PurgeForm, TypedNameForm):
    """The choice again, the offsets the preview showed per partition, and the typed name."""

    def clean(self):
        data = super().clean()
        seen = seen_partitions(self.data)
        below: dict[int, int] = {}
        for part in self.data.get("below", "").split(","):
            p, sep, off = part.partition(":")
            if not (sep and p.isdigit() and off.isdigit()):
                raise forms.ValidationError(NO_PREVIEW)
            below[int(p)] = int(off)
        if not self.errors:
            args = self.plan_args
            chosen = set(range(seen)) if args["partitions"] is None else set(args["partitions"])
            offsets = {args["offset"]} if args["offset"] is not None else set(below.values())
            if set(below) != chosen or set(below.values()) - offsets:
                raise forms.ValidationError(NO_PREVIEW)
        data["seen_partitions"] = seen
        data["below"] = below
        return data
