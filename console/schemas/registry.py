"""The schema registry's management API (Confluent's REST API; Apicurio's ccompat answers it
too), next to the decoding client in console/messages/schema_registry.py and with its
timeout: every call gives up after TIMEOUT_S seconds with a RegistryError that says why.

Plain dataclasses out, never HTTP objects. Paths use the subject percent-encoded whole.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from console.messages.schema_registry import TIMEOUT_S, RegistryError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
LEVELS = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)
TYPES = ("AVRO", "JSON", "PROTOBUF")
SUBJECT_PAGE = 1000
MAX_SUBJECT_PAGES = 200


class RegistryUnavailable(RegistryError):
    """The registry did not answer (refused, unreachable or slower than the timeout)."""


class RegistryAnswer(RegistryError):
    """The registry answered with an HTTP error; `status`, `code` and its own `message`."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Reference:
    name: str
    subject: str
    version: int


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    subject: str
    version: int
    id: int
    schema_type: str
    schema: str
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True, slots=True)
class CompatibilityAnswer:
    """What the registry said about a candidate schema: compatible or not, and its reasons
    (Confluent lists them with verbose=true; Apicurio gives none)."""

    compatible: bool
    messages: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def raw_json(self) -> str:
        return json.dumps(self.raw)


def _message(body: bytes, status: int) -> tuple[int | None, str]:
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        code = doc.get("error_code")
        msg = str(doc.get("message") or "")
        return (code if isinstance(code, int) else None), msg[:1000]
    text = body.decode(errors="replace").strip()
    return None, text[:300] or f"HTTP {status}"


class RegistryClient:
    """One registry's management API."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": CONTENT_TYPE}
        if data is not None:
            headers["Content-Type"] = CONTENT_TYPE
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - configured URL
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            code, message = _message(exc.read(), exc.code)
            raise RegistryAnswer(exc.code, code, message or f"HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                reason = f"no answer within {self.timeout:g} s"
            raise RegistryUnavailable(f"schema registry unreachable ({reason})") from None
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise RegistryError("the registry answered something that is not JSON") from None

    # --- reads ---------------------------------------------------------------------------

    def subjects(self, *, deleted: bool = False) -> list[str]:
        """Every subject. Apicurio answers at most 1,000 per request (its
        apicurio.ccompat.max-subjects), so the list is read in pages by offset and limit;
        a registry that ignores them answers everything at once."""
        names: list[str] = []
        seen: set[str] = set()
        for _ in range(MAX_SUBJECT_PAGES):
            query = f"?offset={len(names)}&limit={SUBJECT_PAGE}"
            page = self.request("GET", "/subjects" + query + ("&deleted=true" if deleted else ""))
            fresh = [str(n) for n in page or [] if str(n) not in seen]
            names += fresh
            seen.update(fresh)
            if len(page or []) != SUBJECT_PAGE or not fresh:
                break
        return names

    def versions(self, subject: str, *, deleted: bool = False) -> list[int]:
        path = f"/subjects/{_q(subject)}/versions" + ("?deleted=true" if deleted else "")
        return sorted(int(v) for v in self.request("GET", path) or [])

    def version(self, subject: str, version: int | str = "latest") -> SchemaVersion:
        raw = self.request("GET", f"/subjects/{_q(subject)}/versions/{version}")
        return _schema_version(raw, subject)

    def referenced_by(self, subject: str, version: int) -> list[int]:
        raw = self.request("GET", f"/subjects/{_q(subject)}/versions/{version}/referencedby")
        return [int(i) for i in raw or []]

    def global_level(self) -> str:
        raw = self.request("GET", "/config") or {}
        return str(raw.get("compatibilityLevel") or raw.get("compatibility") or "")

    def subject_level(self, subject: str, *, default_to_global: bool = False) -> str | None:
        """The subject's own level; None when it has none (Confluent's 404)."""
        path = f"/config/{_q(subject)}" + ("?defaultToGlobal=true" if default_to_global else "")
        try:
            raw = self.request("GET", path) or {}
        except RegistryAnswer as exc:
            if exc.status == 404:
                return None
            raise
        return str(raw.get("compatibilityLevel") or raw.get("compatibility") or "") or None

    # --- checks and changes --------------------------------------------------------------

    def check(
        self, subject: str, schema: str, schema_type: str, references: list[dict] | None = None
    ) -> CompatibilityAnswer:
        path = f"/compatibility/subjects/{_q(subject)}/versions/latest?verbose=true"
        raw = self.request("POST", path, _payload(schema, schema_type, references)) or {}
        messages = raw.get("messages") or []
        if isinstance(messages, str):
            messages = [messages]
        return CompatibilityAnswer(
            compatible=bool(raw.get("is_compatible")),
            messages=tuple(str(m) for m in messages),
            raw=raw,
        )

    def register(
        self, subject: str, schema: str, schema_type: str, references: list[dict] | None = None
    ) -> int:
        raw = self.request(
            "POST", f"/subjects/{_q(subject)}/versions", _payload(schema, schema_type, references)
        )
        return int((raw or {}).get("id", 0))

    def lookup(
        self, subject: str, schema: str, schema_type: str, references: list[dict] | None = None
    ) -> SchemaVersion | None:
        """The version of `subject` that holds exactly this schema, if any."""
        try:
            raw = self.request(
                "POST", f"/subjects/{_q(subject)}", _payload(schema, schema_type, references)
            )
        except RegistryAnswer as exc:
            if exc.status == 404:
                return None
            raise
        return _schema_version(raw, subject)

    def set_level(self, subject: str | None, level: str) -> None:
        path = "/config" + (f"/{_q(subject)}" if subject else "")
        self.request("PUT", path, {"compatibility": level})

    def delete_level(self, subject: str) -> None:
        """Drop the subject's own level: it follows the global one again."""
        try:
            self.request("DELETE", f"/config/{_q(subject)}")
        except RegistryAnswer as exc:
            if exc.status != 404:  # it had none
                raise

    def delete_version(self, subject: str, version: int, *, permanent: bool) -> None:
        path = f"/subjects/{_q(subject)}/versions/{version}"
        self.request("DELETE", path + ("?permanent=true" if permanent else ""))

    def delete_subject(self, subject: str, *, permanent: bool) -> None:
        path = f"/subjects/{_q(subject)}"
        self.request("DELETE", path + ("?permanent=true" if permanent else ""))


def _q(subject: str) -> str:
    return quote(subject, safe="")


def _payload(schema: str, schema_type: str, references: list[dict] | None) -> dict:
    body: dict[str, Any] = {"schema": schema}
    if schema_type and schema_type != "AVRO":
        body["schemaType"] = schema_type
    if references:
        body["references"] = references
    return body


def _schema_version(raw: Any, subject: str) -> SchemaVersion:
    from console.messages.schema_registry import _sniff

    if not isinstance(raw, dict):
        raise RegistryError("the registry answered without a schema")
    text = str(raw.get("schema", ""))
    refs = tuple(
        Reference(str(r.get("name", "")), str(r.get("subject", "")), int(r.get("version", 0)))
        for r in raw.get("references") or []
        if isinstance(r, dict)
    )
    return SchemaVersion(
        subject=str(raw.get("subject") or subject),
        version=int(raw.get("version", 0)),
        id=int(raw.get("id", 0)),
        schema_type=str(raw.get("schemaType") or _sniff(text)).upper(),
        schema=text,
        references=refs,
    )


def client_for(url: str) -> RegistryClient:
    return RegistryClient(url)
