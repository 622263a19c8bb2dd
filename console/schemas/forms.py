"""Forms of the schema pages: a schema to check and register, a compatibility level, and the
typed confirmation of a delete."""

from __future__ import annotations

import json

from django import forms

from console.schemas.registry import LEVELS, TYPES
from console.schemas.services import parse_references

MAX_SCHEMA = 1_000_000  # characters; a registry refuses far smaller schemas anyway
SUBJECT_MAX = 255


def subject_problem(subject: str) -> str:
    if not subject:
        return "Give the subject a name, e.g. orders-value (the topic-name strategy)."
    if len(subject) > SUBJECT_MAX:
        return f"A subject name has at most {SUBJECT_MAX} characters."
    if "/" in subject:
        return "The console does not handle subject names with '/'."
    return ""


class SchemaForm(forms.Form):
    """A schema pasted or uploaded, its type and references; `subject` only for a new one."""

    subject = forms.CharField(
        required=False,
        max_length=SUBJECT_MAX,
        label="Subject",
        help_text="Topic-name strategy: <topic>-key or <topic>-value.",
    )
    schema_type = forms.ChoiceField(
        choices=[(t, {"JSON": "JSON Schema"}.get(t, t.title())) for t in TYPES],
        initial="AVRO",
        label="Schema type",
    )
    schema = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_SCHEMA,
        label="Schema",
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "class": "code"}),
        help_text="Paste it here, or upload a file below (the file wins).",
    )
    upload = forms.FileField(
        required=False, label="Or upload a file", help_text=".avsc, .json or .proto"
    )
    references = forms.CharField(
        required=False,
        label="References (optional)",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "code"}),
        help_text='A JSON list: [{"name": "demo.User", "subject": "users-value", "version": 1}]',
    )

    def __init__(self, *args, new_subject: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.new_subject = new_subject
        if not new_subject:
            del self.fields["subject"]

    def clean_subject(self) -> str:
        subject = self.cleaned_data.get("subject", "").strip()
        problem = subject_problem(subject)
        if problem:
            raise forms.ValidationError(problem)
        return subject

    def clean_references(self) -> list[dict]:
        try:
            return parse_references(self.cleaned_data.get("references", ""))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        data = super().clean()
        upload = data.get("upload")
        text = data.get("schema") or ""
        if upload:
            if upload.size > MAX_SCHEMA:
                raise forms.ValidationError("The file is larger than 1 MB.")
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                self.add_error("upload", "The file is not UTF-8 text.")
                return data
        if not text.strip():
            self.add_error("schema", "Paste a schema or upload a file.")
            return data
        kind = data.get("schema_type")
        if kind in ("AVRO", "JSON"):
            try:
                json.loads(text)
            except ValueError as exc:
                self.add_error(
                    "schema",
                    f"An {'Avro' if kind == 'AVRO' else 'JSON'} schema is JSON, and this is not: {exc}.",
                )
                return data
        if kind == "AVRO" and not data.get("references"):
            problem = _avro_problem(text)
            if problem:
                self.add_error("schema", f"This is not a valid Avro schema: {problem}")
                return data
        data["schema"] = text
        return data


def _avro_problem(text: str) -> str:
    """Why fastavro cannot parse the Avro schema ('' when it can); with references the
    named types live in other subjects, so it is left to the registry."""
    import fastavro

    try:
        fastavro.parse_schema(json.loads(text))
    except Exception as exc:  # noqa: BLE001 - fastavro raises many kinds
        return str(exc)[:300]
    return ""


GLOBAL = "GLOBAL"  # a subject's choice: no level of its own, follow the global one


class LevelForm(forms.Form):
    level = forms.ChoiceField(choices=[(lv, lv) for lv in LEVELS], label="New compatibility level")

    def __init__(self, *args, subject: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if subject:
            self.fields["level"].choices = [
                (GLOBAL, "Follow the global level"),
                *self.fields["level"].choices,
            ]


class LevelConfirmForm(LevelForm):
    seen = forms.CharField(max_length=40)


class DeleteChoiceForm(forms.Form):
    version = forms.IntegerField(required=False, min_value=1)
    permanent = forms.BooleanField(required=False)


class TypedConfirmForm(forms.Form):
    """The last step of a delete: the user types what goes."""

    confirm = forms.CharField(
        required=False,
        strip=False,
        max_length=600,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, name: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.name = name

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"]
        if not typed:
            raise forms.ValidationError(f"Type {self.name} to confirm.")
        if typed != self.name:
            raise forms.ValidationError(f"That is not it: type {self.name} exactly.")
        return typed
