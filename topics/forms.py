"""Forms for topic operations; each error says what to change."""

from __future__ import annotations

import re

from django import forms

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
    name = forms.CharField(max_length=400, strip=True)
    partitions = forms.IntegerField(min_value=1, max_value=MAX_PARTITIONS)
    replication = forms.IntegerField(min_value=1, max_value=32, label="Replication factor")
    configs = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "cleanup.policy=compact\nretention.ms=604800000"}
        ),
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


class TopicDeleteForm(forms.Form):
    confirm = forms.CharField(label="Type the topic's name to confirm")

    def __init__(self, *args, topic: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.topic = topic

    def clean_confirm(self) -> str:
        if self.cleaned_data["confirm"] != self.topic:
            raise forms.ValidationError(f"Type {self.topic!r} exactly to delete it.")
        return self.cleaned_data["confirm"]


class PartitionsAddForm(forms.Form):
    total = forms.IntegerField(label="New partition count", max_value=MAX_PARTITIONS)

    def __init__(self, *args, current: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current = current

    def clean_total(self) -> int:
        total = self.cleaned_data["total"]
        if total <= self.current:
            raise forms.ValidationError(
                f"The topic has {self.current} partitions; Kafka can only add, so give more."
            )
        return total


class ConfigEditForm(forms.Form):
    name = forms.CharField(max_length=200)
    value = forms.CharField(required=False, max_length=10_000)
    reset = forms.BooleanField(required=False, label="Remove the override (back to default)")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not re.fullmatch(r"[a-z0-9.]+", name):
            raise forms.ValidationError("Config names are lower-case words joined by dots.")
        return name


class PurgeForm(forms.Form):
    partition = forms.CharField(required=False, help_text="Empty: every partition.")
    offset = forms.IntegerField(
        required=False, min_value=0, help_text="Delete records below this offset; empty: all."
    )

    def __init__(self, *args, partitions: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.partitions = partitions

    def clean_partition(self) -> int | None:
        raw = (self.cleaned_data.get("partition") or "").strip()
        if not raw:
            return None
        if not raw.isdigit() or int(raw) >= self.partitions:
            raise forms.ValidationError(
                f"Give a partition from 0 to {self.partitions - 1}, or leave it empty for all."
            )
        return int(raw)
