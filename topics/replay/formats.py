"""The console's message file formats: the JSON-lines download (with the exact bytes) and
what an import reads back (that JSON lines, or the CSV download), checked line by line."""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field

from console.messages.presenters import MessageView

MAX_ERRORS_LISTED = 50


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def export_line(view: MessageView, *, exact: bool = True) -> str:
    """One download line: the record as shown, plus (when `exact`: nothing was masked) its
    key, value and headers as base64, so an import writes back the very same bytes."""
    d = view.as_dict()
    if exact:
        msg = view.message
        d["key_b64"] = _b64(msg.key)
        d["value_b64"] = _b64(msg.value)
        d["headers_b64"] = [[n, _b64(v)] for n, v in msg.headers]
    return json.dumps(d, ensure_ascii=False, default=str)


@dataclass
class Parsed:
    records: list[dict] = field(default_factory=list)  # {"k","v","h","ts","p"} base64
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)
    error_count: int = 0
    lines: int = 0

    def error(self, line: int, why: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append((line, why))


def _text_bytes(value, what: str) -> bytes | None:
    """A decoded key or value as shown (text or JSON) back to bytes."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogatepass")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _hex_bytes(text: str) -> bytes:
    if "…" in text:
        raise ValueError("the value was cut in the download (over 4 KiB shown as hex)")
    return bytes.fromhex(text.replace(" ", ""))


def _header_bytes(text: str) -> bytes:
    if text.startswith("0x"):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            pass
    return text.encode()


def _ts_ms(value) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, int):
        return value
    when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return round(when.timestamp() * 1000)


def _unb64(text, what: str) -> bytes | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"{what} must be base64 text or null")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError(f"{what} is not valid base64") from None


def _record_from(obj: dict) -> tuple[bytes | None, bytes | None, list, int | None, int | None]:
    if "value_b64" in obj or "key_b64" in obj:
        key = _unb64(obj.get("key_b64"), "key_b64")
        value = _unb64(obj.get("value_b64"), "value_b64")
        raw = obj.get("headers_b64") or []
        if not isinstance(raw, list) or not all(
            isinstance(h, list) and len(h) == 2 and isinstance(h[0], str) for h in raw
        ):
            raise ValueError("headers_b64 must be a list of [name, base64 value] pairs")
        headers = [(n, _unb64(v, f"header {n!r}")) for n, v in raw]
    else:
        key = _text_bytes(obj.get("key"), "key")
        enc = obj.get("value_encoding")
        if enc == "null":
            value = None
        elif enc == "binary" and isinstance(obj.get("value"), str):
            value = _hex_bytes(obj["value"])
        else:
            value = _text_bytes(obj.get("value"), "value")
        hd = obj.get("headers") or {}
        if not isinstance(hd, dict):
            raise ValueError("headers must be an object of name: value")
        headers = [(str(n), _header_bytes(str(v))) for n, v in hd.items()]
    part = obj.get("partition")
    if part is not None and (not isinstance(part, int) or part < 0):
        raise ValueError("partition must be a number ≥ 0")
    return key, value, headers, _ts_ms(obj.get("timestamp")), part


def _add(out: Parsed, key, value, headers, ts, part, limit: int, line: int) -> None:
    size = len(key or b"") + len(value or b"") + sum(len(n) + len(v or b"") for n, v in headers)
    if size > limit:
        out.error(line, f"the record is {size:,} bytes; the console sends at most {limit:,}")
        return
    out.records.append(
        {
            "k": _b64(key),
            "v": _b64(value),
            "h": [[n, _b64(v)] for n, v in headers],
            "ts": ts,
            "p": part,
        }
    )


def parse_jsonl(data: bytes, *, max_message_bytes: int) -> Parsed:
    """Every line of a JSON-lines file as a record to send, or its line's error."""
    out = Parsed()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        out.error(data[: exc.start].count(b"\n") + 1, "not UTF-8 text")
        return out
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        out.lines += 1
        try:
            obj = json.loads(line)
        except ValueError as exc:
            out.error(n, f"not JSON: {exc}")
            continue
        if not isinstance(obj, dict):
            out.error(n, "not a JSON object (one record per line)")
            continue
        try:
            _add(out, *_record_from(obj), max_message_bytes, n)
        except (ValueError, TypeError) as exc:
            out.error(n, str(exc))
    return out


def _csv_text(cell: str) -> str:
    """Undo the download's formula guard (a quote before =, +, -, @)."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell


def parse_csv(data: bytes, *, max_message_bytes: int) -> Parsed:
    """The CSV download read back: key and value as UTF-8 text, headers as a JSON object."""
    out = Parsed()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        out.error(1, "not UTF-8 text")
        return out
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "value" not in reader.fieldnames:
        out.error(1, "the first line must name the columns, with at least 'value'")
        return out
    for row in reader:
        n = reader.line_num
        out.lines += 1
        try:
            key = row.get("key")
            value = row.get("value")
            hd = _csv_text(row.get("headers") or "") or "{}"
            try:
                headers_obj = json.loads(hd)
            except ValueError:
                raise ValueError("headers must be a JSON object of name: value") from None
            if not isinstance(headers_obj, dict):
                raise ValueError("headers must be a JSON object of name: value")
            part = row.get("partition")
            _add(
                out,
                _csv_text(key).encode() if key not in (None, "") else None,
                _csv_text(value or "").encode(),
                [(str(k), _header_bytes(str(v))) for k, v in headers_obj.items()],
                _ts_ms(row.get("timestamp") or None),
                int(part) if part not in (None, "") else None,
                max_message_bytes,
                n,
            )
        except (ValueError, TypeError) as exc:
            out.error(n, str(exc))
    return out
