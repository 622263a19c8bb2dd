"""Forms to produce one message or a generated stream; each error says what to fix."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings

from console.generators import TemplateError, check_template
from console.kafka.produce import COMPRESSIONS

HEADER_ROWS = 5


def _not_json(token: str) -> None:
    raise ValueError(
        f"{token} is not a JSON value (JSON has no NaN or Infinity). "
        f'Write null, a number, or the string "{token}"'
    )


def json_strict(text: str) -> Any:
    """`text` parsed as standard JSON (RFC 8259); ValueError with the reason otherwise.

    Python's json module also reads NaN, Infinity and -Infinity, which other JSON readers
    (Java's Jackson, JavaScript's JSON.parse) reject: a consumer would choke on them.
    """
    try:
        return json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("it is nested too deeply (arrays or objects inside each other)") from None


COMPRESSION_LABELS = {"none": "None"}


class ProduceForm(forms.Form):
    key = forms.CharField(
        required=False,
        strip=False,
        max_length=100_000,
        label="Key",
        help_text="Empty is an empty key; tick “no key” to send none (null).",
    )
    null_key = forms.BooleanField(required=False, label="No key (null)")
    value = forms.CharField(
        required=False,
        strip=False,
        label="Value",
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    value_format = forms.ChoiceField(
        choices=[("text", "Text, sent as typed"), ("json", "JSON, checked before sending")],
        initial="json",
        label="Value is",
    )
    partition = forms.IntegerField(
        required=False,
        min_value=0,
        label="Partition",
        help_text="Empty: chosen from the key's hash, as Java clients do.",
    )
    compression = forms.ChoiceField(
        choices=[(c, COMPRESSION_LABELS.get(c, c)) for c in COMPRESSIONS],
        initial="none",
        label="Compression",
    )
    schema_subject = forms.CharField(
        required=False,
        max_length=255,
        label="Encode with the schema of subject",
        help_text="The latest version of this registry subject (Avro or JSON Schema); "
        "empty: send the value as typed.",
    )

    def __init__(self, *args, partitions: int, registry=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.partitions = partitions
        self.registry = registry
        if registry is None:
            del self.fields["schema_subject"]

    def clean_partition(self):
        p = self.cleaned_data.get("partition")
        if p is not None and p >= self.partitions:
            raise forms.ValidationError(
                f"The topic has {self.partitions} partitions (0-{self.partitions - 1})."
            )
        return p

    def clean(self):
        data = super().clean()
        value = data.get("value", "")
        if data.get("value_format") == "json" and value:
            try:
                json_strict(value)
            except ValueError as exc:
                self.add_error("value", f"Not valid JSON: {exc}. Choose 'text' to send it as is.")
        headers = []
        for i in range(HEADER_ROWS):
            name = self.data.get(f"header_name_{i}", "").strip()
            hv = self.data.get(f"header_value_{i}", "")
            if name:
                headers.append((name, hv.encode()))
            elif hv:
                self.add_error(None, f"Header row {i + 1} has a value but no name.")
        data["headers"] = headers
        key = None if data.get("null_key") else (data.get("key") or "").encode()
        data["key_bytes"] = key
        data["value_bytes"] = value.encode()
        data["schema_id"] = None
        subject = (data.get("schema_subject") or "").strip()
        if subject and self.registry is not None and "value" not in self.errors:
            from console.messages.schema_registry import RegistryError

            try:
                data["value_bytes"], data["schema_id"] = self.registry.encode(
                    subject, json_strict(value)
                )
            except ValueError as exc:
                self.add_error("value", f"Schema encoding needs a JSON value: {exc}.")
            except RegistryError as exc:
                self.add_error("schema_subject", str(exc))
        size = len(key or b"") + len(data["value_bytes"]) + sum(len(n) + len(v) for n, v in headers)
        limit = settings.CONSOLE_MAX_MESSAGE_BYTES
        if size > limit:
            self.add_error(
                "value",
                f"The message is {size} bytes; the console sends at most "
                f"{limit} (CONSOLE_MAX_MESSAGE_BYTES).",
            )
        return data


class GenerateForm(forms.Form):
    template = forms.ChoiceField(
        choices=[
            ("clickstream", "Clickstream: page views keyed by user id"),
            ("custom", "My own templates"),
        ],
        label="Events",
        # console.js shows the template fields only for "my own templates".
        widget=forms.Select(attrs={"data-mode-select": "template"}),
    )
    key_template = forms.CharField(
        required=False,
        max_length=1000,
        initial="{{choice:alice|bob|carol}}",
        label="Key template",
        help_text="Each event's key; empty: no key.",
    )
    value_template = forms.CharField(
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        initial='{"id": "{{uuid}}", "n": {{int:1:100}}, "seq": {{seq}}, "ts": {{timestamp}}}',
        label="Value template",
        help_text="Each event's value: JSON or any text.",
    )
    stop = forms.ChoiceField(
        required=False,
        choices=[("count", "After a number of events"), ("time", "After a time, at a steady rate")],
        initial="count",
        label="Stop",
        # console.js shows only the fields of the way chosen.
        widget=forms.Select(attrs={"data-mode-select": "stop"}),
    )
    count = forms.IntegerField(
        required=False,
        min_value=1,
        label="Number of events",
        help_text="Produced as fast as the cluster takes them.",
    )
    seconds = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=24 * 3600,
        label="For (seconds)",
        help_text="How long to keep producing …",
    )
    rate = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1_000_000,
        label="Events per second",
        help_text="… and how many events each second.",
    )
    # Not "schema_subject": the one-message form on the same page has a field of that name.
    encode_subject = forms.CharField(
        required=False,
        max_length=255,
        label="Encode with the schema of subject",
        help_text="Each event's value (JSON) written with this registry subject's latest "
        "version (Avro or JSON Schema); empty: sent as generated.",
    )

    def __init__(self, *args, registry=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.registry = registry
        if registry is None:
            del self.fields["encode_subject"]

    def _check_schema(self, data: dict) -> None:
        """With a subject: the first event must encode, so a wrong subject or events that
        do not fit its schema are refused here, not in the middle of a run."""
        subject = (data.get("encode_subject") or "").strip()
        data["encode_subject"] = subject
        if not subject or self.registry is None or self.errors:
            return
        from console.generators import events
        from console.messages.schema_registry import RegistryError, writer_for

        first = next(
            events(
                template=data.get("template") or "clickstream",
                key_template=data.get("key_template") or "",
                value_template=data.get("value_template") or "",
                seed=1,
                start=0,
                count=1,
            )
        )
        try:
            value = json_strict(first[1].decode())
        except ValueError as exc:
            self.add_error("encode_subject", f"The events' values must be JSON to encode: {exc}.")
            return
        try:
            pinned = self.registry.pinned(subject)
            writer_for(pinned)(value)
        except RegistryError as exc:
            self.add_error("encode_subject", f"The first event does not encode: {exc}")
            return
        data["schema"] = pinned  # the task encodes with exactly this version

    def clean(self):
        data = self._clean_amount()
        self._check_schema(data)
        return data

    def _clean_amount(self):
        data = super().clean()
        # The way chosen decides which fields count; without a choice (an older form, a
        # script), a number of events wins, and seconds with a rate pace it.
        stop = data.get("stop")
        if stop == "count":
            data["seconds"] = data["rate"] = None
            if data.get("count") is None and "count" not in self.errors:
                self.add_error("count", "Give the number of events to produce.")
                return data
        elif stop == "time":
            data["count"] = None
            for field, words in (("seconds", "how long"), ("rate", "how many a second")):
                if data.get(field) is None and field not in self.errors:
                    self.add_error(field, f"Give {words} to produce.")
            if self.errors:
                return data
        count, seconds, rate = data.get("count"), data.get("seconds"), data.get("rate")
        if count is None and not (seconds and rate):
            raise forms.ValidationError("Give a number of events, or seconds and a rate.")
        if count is None:
            count = seconds * rate
        elif seconds and not rate:
            self.add_error("rate", "With seconds, give a rate too.")
        limit = settings.CONSOLE_MAX_GENERATOR_EVENTS
        if count > limit:
            raise forms.ValidationError(
                f"{count} events is more than the limit of {limit} (CONSOLE_MAX_GENERATOR_EVENTS)."
            )
        data["total"] = count
        if data.get("template") == "custom":
            if not data.get("value_template"):
                self.add_error("value_template", "Write a value template.")
            for field in ("key_template", "value_template"):
                try:
                    check_template(data.get(field) or "")
                except TemplateError as exc:
                    self.add_error(field, str(exc))
        return data
