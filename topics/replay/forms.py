"""Forms of the replay pages; each error says what to fix."""

from __future__ import annotations

import base64
import binascii

from django import forms
from django.conf import settings

from console.clusters import all_clusters
from console.forms import UtcDateTimeField
from console.web import TOPIC_NAME
from topics.replay.services import DLQ_HEADERS

ENCODINGS = [
    ("text", "Text (UTF-8)"),
    ("base64", "Base64"),
    ("hex", "Hex"),
    ("null", "Null"),
]


def encode_for_form(data: bytes | None) -> tuple[str, str]:
    """(text, encoding) showing `data` in the form without losing a byte."""
    if data is None:
        return "", "null"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode(), "base64"
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text) or "\r" in text:
        # Control characters (and \r, which browsers turn into \r\n) would not survive a form.
        return base64.b64encode(data).decode(), "base64"
    return text, "text"


def decode_from_form(text: str, encoding: str) -> bytes | None:
    """The bytes a field means; ValueError with the reason when they cannot be read."""
    if encoding == "null":
        return None
    if encoding == "base64":
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except binascii.Error:
            raise ValueError("this is not valid base64") from None
    if encoding == "hex":
        try:
            return bytes.fromhex(text.replace("0x", ""))
        except ValueError:
            raise ValueError("this is not valid hex (pairs of 0-9, a-f)") from None
    return text.encode()


def _topic_name(value: str) -> str:
    value = value.strip()
    if not TOPIC_NAME.fullmatch(value) or value in (".", ".."):
        raise forms.ValidationError("A topic name is 1 to 249 letters, digits, '.', '_' and '-'.")
    return value


class ReproduceForm(forms.Form):
    """One message as read, to send again (edited) to a topic of this cluster."""

    target_topic = forms.CharField(
        max_length=249, label="Send to topic", help_text="This topic, or another of the cluster."
    )
    key = forms.CharField(required=False, strip=False, max_length=100_000, label="Key")
    key_encoding = forms.ChoiceField(choices=ENCODINGS, label="Key is")
    value = forms.CharField(
        required=False, strip=False, label="Value", widget=forms.Textarea(attrs={"rows": 8})
    )
    value_encoding = forms.ChoiceField(
        choices=ENCODINGS, label="Value is", help_text="Null sends a tombstone."
    )
    partition = forms.IntegerField(
        required=False,
        min_value=0,
        label="Partition",
        help_text="The message's own partition; empty: chosen from the key's hash.",
    )

    def __init__(self, *args, header_rows: int = 3, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header_rows = header_rows

    def clean_target_topic(self):
        return _topic_name(self.cleaned_data["target_topic"])

    def headers(self) -> list[dict]:
        """The header rows as the form shows them."""
        rows = []
        source = self.data if self.is_bound else self.initial
        for i in range(self.header_rows):
            rows.append(
                {
                    "i": i,
                    "name": source.get(f"header_name_{i}", ""),
                    "value": source.get(f"header_value_{i}", ""),
                    "encoding": source.get(f"header_encoding_{i}", "text"),
                    "carry": bool(source.get(f"header_carry_{i}")),
                }
            )
        return rows

    def clean(self):
        data = super().clean()
        for field in ("key", "value"):
            enc = data.get(f"{field}_encoding")
            if enc is None or field in self.errors:
                continue
            try:
                data[f"{field}_bytes"] = decode_from_form(data.get(field) or "", enc)
            except ValueError as exc:
                self.add_error(field, f"{exc.args[0][0].upper()}{exc.args[0][1:]}.")
        headers = []
        for row in self.headers():
            if not row["carry"]:
                continue  # not carried: left out of the message
            name = row["name"].strip()
            if not name:
                self.add_error(None, f"Header row {row['i'] + 1} is ticked but has no name.")
                continue
            try:
                value = decode_from_form(row["value"], row["encoding"])
            except ValueError as exc:
                self.add_error(None, f"Header {name!r}: {exc}.")
                continue
            headers.append((name, value if value is not None else b""))
        data["headers"] = headers
        size = (
            len(data.get("key_bytes") or b"")
            + len(data.get("value_bytes") or b"")
            + sum(len(n) + len(v) for n, v in headers)
        )
        limit = settings.CONSOLE_MAX_MESSAGE_BYTES
        if size > limit:
            self.add_error(
                "value", f"The message is {size:,} bytes; the console sends at most {limit:,}."
            )
        return data


def _cluster_choices():
    return [(c.name, c.name + (" (read-only)" if c.read_only else "")) for c in all_clusters()]


def _partitions(text: str) -> list[int] | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        parts = sorted({int(x) for x in text.replace(" ", "").split(",") if x})
    except ValueError:
        raise forms.ValidationError("Partitions are numbers separated by commas.") from None
    if any(p < 0 for p in parts):
        raise forms.ValidationError("Partitions are numbers from 0.")
    return parts


class RangeFields(forms.Form):
    partitions = forms.CharField(
        required=False,
        max_length=2000,
        label="Partitions",
        help_text="Comma-separated, e.g. 0,2; empty: all.",
    )
    from_offset = forms.IntegerField(
        required=False, min_value=0, label="From offset", help_text="Empty: the oldest."
    )
    to_offset = forms.IntegerField(
        required=False,
        min_value=0,
        label="Up to offset (not included)",
        help_text="Empty: the newest when you preview; later records are not copied.",
    )

    from_time = UtcDateTimeField(
        required=False, label="From time (UTC)", help_text="Empty: from the offsets alone."
    )
    to_time = UtcDateTimeField(
        required=False,
        label="Before time (UTC)",
        help_text="Records at or after it are not copied; empty: no time bound.",
    )

    def clean_partitions(self):
        return _partitions(self.cleaned_data.get("partitions", ""))

    def clean(self):
        data = super().clean()
        a, b = data.get("from_offset"), data.get("to_offset")
        if a is not None and b is not None and b <= a:
            self.add_error("to_offset", "Give an offset after the “from” offset.")
        t0, t1 = data.get("from_time"), data.get("to_time")
        if t0 is not None and t1 is not None and t1 <= t0:
            self.add_error("to_time", "Give a time after the “from” time.")
        for name in ("from_time", "to_time"):
            when = data.get(name)
            data[f"{name}_ms"] = None if when is None else int(when.timestamp() * 1000)
        return data


class CopyForm(RangeFields):
    target_cluster = forms.ChoiceField(label="To cluster")
    target_topic = forms.CharField(max_length=249, label="To topic")
    routing = forms.ChoiceField(
        choices=[
            ("source", "Keep each record's partition"),
            ("key", "Let the key decide (murmur2, as Java clients)"),
        ],
        label="Partition",
    )
    keep_timestamps = forms.BooleanField(
        required=False, initial=True, label="Keep the records' timestamps"
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target_cluster"].choices = _cluster_choices()

    def clean_target_topic(self):
        return _topic_name(self.cleaned_data["target_topic"])


class RedriveForm(RangeFields):
    header_names = forms.CharField(
        max_length=1000,
        initial=", ".join(DLQ_HEADERS),
        label="Original topic in header",
        help_text="The first of these headers a record carries names where it goes back.",
    )
    marker_header = forms.CharField(
        required=False,
        max_length=200,
        initial="x-redriven-from",
        label="Mark with header",
        help_text="Added to each record sent back, with this topic's name; empty: none.",
    )

    def clean_header_names(self):
        names = [n.strip() for n in self.cleaned_data["header_names"].split(",") if n.strip()]
        if not names:
            raise forms.ValidationError("Name at least one header.")
        return names


class ImportForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="JSON lines as the message browser downloads them, or its CSV.",
    )
    routing = forms.ChoiceField(
        choices=[
            ("source", "The partition each line names (else the key's hash)"),
            ("key", "Let the key decide (murmur2, as Java clients)"),
        ],
        label="Partition",
    )
    keep_timestamps = forms.BooleanField(
        required=False, initial=False, label="Keep the timestamps in the file"
    )

    def clean_file(self):
        f = self.cleaned_data["file"]
        limit = settings.CONSOLE_REPLAY_IMPORT_MAX_BYTES
        if f.size > limit:
            raise forms.ValidationError(
                f"The file is {f.size:,} bytes; the console imports at most {limit:,} "
                "(CONSOLE_REPLAY_IMPORT_MAX_BYTES)."
            )
        return f
