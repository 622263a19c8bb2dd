"""The console's own reading of Avro's schema-resolution rules, used to say *why* a schema is
incompatible when the registry only answers yes or no (Apicurio's ccompat gives no reasons;
Confluent's verbose answer does, and then those are shown instead).

`avro_problems(reader, writer)` lists what stops a reader with schema `reader` from reading
data written with schema `writer`, in words, with a JSON-pointer-like path.
"""

from __future__ import annotations

import json
from typing import Any

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
# Writer type -> reader types it may be read as (the Avro specification's promotions).
PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}


def _full(name: str, namespace: str | None) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def _collect(schema: Any, names: dict[str, dict], namespace: str | None = None) -> None:
    """Every named type (record, enum, fixed) by full name."""
    if isinstance(schema, list):
        for branch in schema:
            _collect(branch, names, namespace)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "error", "enum", "fixed") and "name" in schema:
            ns = schema.get("namespace", namespace)
            full = _full(schema["name"], ns)
            names.setdefault(full, {**schema, "_full": full})
            if kind in ("record", "error"):
                child_ns = full.rsplit(".", 1)[0] if "." in full else ns
                for f in schema.get("fields", []):
                    _collect(f.get("type"), names, child_ns)
        elif kind == "array":
            _collect(schema.get("items"), names, namespace)
        elif kind == "map":
            _collect(schema.get("values"), names, namespace)
        elif isinstance(kind, dict | list):
            _collect(kind, names, namespace)


class _Checker:
    def __init__(self, reader: Any, writer: Any) -> None:
        self.rnames: dict[str, dict] = {}
        self.wnames: dict[str, dict] = {}
        _collect(reader, self.rnames)
        _collect(writer, self.wnames)
        self.seen: set[tuple[str, str]] = set()

    def resolve(self, schema: Any, names: dict[str, dict]) -> Any:
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return {"type": schema}
            found = names.get(schema) or next(
                (v for k, v in names.items() if k.rsplit(".", 1)[-1] == schema), None
            )
            return found if found is not None else {"type": schema}
        if (
            isinstance(schema, dict)
            and schema.get("type") in ("record", "error", "enum", "fixed")
            and "_full" not in schema
            and "name" in schema
        ):  # the collected copy knows its full name (a nested one inherits the namespace)
            full = _full(schema["name"], schema.get("namespace"))
            return names.get(full) or next(
                (v for k, v in names.items() if k.rsplit(".", 1)[-1] == schema["name"]), schema
            )
        if isinstance(schema, dict) and isinstance(schema.get("type"), dict | list | str):
            kind = schema["type"]
            if isinstance(kind, dict | list):
                return self.resolve(kind, names)
            if kind not in PRIMITIVES and kind not in (
                "record",
                "error",
                "enum",
                "fixed",
                "array",
                "map",
            ):
                return self.resolve(kind, names)
        return schema

    @staticmethod
    def label(schema: Any) -> str:
        if isinstance(schema, list):
            return "union [" + ", ".join(_Checker.label(b) for b in schema) + "]"
        if isinstance(schema, dict):
            kind = schema.get("type")
            if kind in ("record", "error", "enum", "fixed"):
                return f"{kind} {schema.get('_full') or schema.get('name')}"
            if kind == "array":
                return "array"
            if kind == "map":
                return "map"
            return str(kind)
        return str(schema)

    def matches(self, reader: Any, writer: Any) -> bool:
        return not self.check(reader, writer, "")

    def check(self, reader: Any, writer: Any, path: str) -> list[str]:
        r = self.resolve(reader, self.rnames)
        w = self.resolve(writer, self.wnames)
        if isinstance(w, list):
            out: list[str] = []
            for i, branch in enumerate(w):
                out += self.check(r, branch, f"{path}/{i}" if isinstance(r, list) else path)
            return out
        if isinstance(r, list):
            if any(self.matches(branch, w) for branch in r):
                return []
            return [
                f"{path or '/'}: the reader's {self.label(r)} has no branch for the "
                f"writer's {self.label(w)}"
            ]
        rk, wk = r.get("type"), w.get("type")
        if wk in PRIMITIVES or rk in PRIMITIVES:
            if rk in PROMOTIONS.get(wk, {wk}):
                return []
            return [f"{path or '/'}: {wk} data cannot be read as {rk}"]
        if rk != wk and not ({rk, wk} <= {"record", "error"}):
            return [f"{path or '/'}: {self.label(w)} data cannot be read as {self.label(r)}"]
        if rk == "array":
            return self.check(r.get("items"), w.get("items"), f"{path}/items")
        if rk == "map":
            return self.check(r.get("values"), w.get("values"), f"{path}/values")
        rname, wname = r.get("_full") or r.get("name"), w.get("_full") or w.get("name")
        short = lambda n: str(n).rsplit(".", 1)[-1]  # noqa: E731
        aliases = {str(a) for a in r.get("aliases", [])}
        if rname != wname and short(rname) != short(wname) and str(wname) not in aliases:
            return [f"{path or '/'}: the name changed from {wname} to {rname}"]
        if rk == "fixed":
            if r.get("size") != w.get("size"):
                return [
                    f"{path or '/'}: fixed size changed from {w.get('size')} to {r.get('size')}"
                ]
            return []
        if rk == "enum":
            missing = [s for s in w.get("symbols", []) if s not in r.get("symbols", [])]
            if missing and "default" not in r:
                return [
                    f"{path or '/'}: enum {rname} lost symbol{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)} and has no default"
                ]
            return []
        key = (str(rname), str(wname))
        if key in self.seen:  # a recursive type: already being compared
            return []
        self.seen.add(key)
        wfields = {f["name"]: f for f in w.get("fields", [])}
        out = []
        for i, f in enumerate(r.get("fields", [])):
            names = [f["name"], *f.get("aliases", [])]
            found = next((wfields[n] for n in names if n in wfields), None)
            where = f"{path}/fields/{i}"
            if found is None:
                if "default" not in f:
                    out.append(
                        f"{where}: field '{f['name']}' ({self.label(f.get('type'))}) is not in "
                        "the data and has no default"
                    )
                continue
            out += self.check(f.get("type"), found.get("type"), where)
        return out


def avro_problems(reader: str, writer: str) -> list[str]:
    """Why data written with `writer` cannot be read with `reader` ([] when it can)."""
    try:
        r, w = json.loads(reader), json.loads(writer)
    except ValueError:
        return ["the schema is not JSON"]
    return _Checker(r, w).check(r, w, "")


def explain(level: str, candidate: str, versions: list[tuple[int, str]]) -> list[str]:
    """The Avro resolution problems `level` cares about, between the candidate and the
    registered versions `(number, schema)`, newest last (all of them for *_TRANSITIVE)."""
    level = (level or "").upper()
    if level in ("", "NONE") or not versions:
        return []
    against = versions if level.endswith("_TRANSITIVE") else versions[-1:]
    out: list[str] = []
    for number, old in reversed(against):
        if level.startswith(("BACKWARD", "FULL")):
            out += [
                f"The new schema cannot read data written with version {number}: {p}."
                for p in avro_problems(candidate, old)
            ]
        if level.startswith(("FORWARD", "FULL")):
            out += [
                f"Readers on version {number} cannot read data written with the new schema: {p}."
                for p in avro_problems(old, candidate)
            ]
    return out
