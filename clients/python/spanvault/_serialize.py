"""One span → one NDJSON line, whatever the app put into it.

``dumps`` never raises: values JSON cannot carry are converted (dataclasses,
pydantic models and the OpenAI/Anthropic SDK objects through ``model_dump``,
sets, bytes, datetimes, exceptions, anything else through ``repr``), a value
that still fails is replaced by its ``repr``, and a line longer than the
daemon's limit gets ``input``/``output``/``expected`` replaced by a marker
(``"[spanvault: truncated N bytes]"``) and ``attributes["spanvault.truncated"]``.
"""

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from typing import Any, Optional, Tuple

MAX_REPR = 4096
_BIG_FIELDS = ("input", "output", "expected", "metadata", "attributes")


_NO_DUMP = object()


def model_dump(o: Any) -> Any:
    """A pydantic model (the SDKs' response objects are) as plain data, else ``_NO_DUMP``."""
    dump = getattr(o, "model_dump", None)
    if not callable(dump):
        return _NO_DUMP
    try:
        return dump(exclude_none=True)
    except TypeError:
        return dump()


def to_jsonable(o: Any) -> Any:
    """``json.dumps``'s ``default``: a JSON-able stand-in for ``o``."""
    dumped = model_dump(o)
    if dumped is not _NO_DUMP:
        return dumped
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, (set, frozenset)):
        return list(o)
    if isinstance(o, (bytes, bytearray, memoryview)):
        return "[bytes: %d]" % len(o)
    if isinstance(o, (datetime.datetime, datetime.date, datetime.time)):
        return o.isoformat()
    if isinstance(o, datetime.timedelta):
        return o.total_seconds()
    if isinstance(o, decimal.Decimal):
        return float(o)
    if isinstance(o, uuid.UUID):
        return str(o)
    if isinstance(o, enum.Enum):
        return o.value
    if isinstance(o, BaseException):
        return {"type": type(o).__name__, "message": str(o)}
    for name in ("to_dict", "dict"):
        fn = getattr(o, name, None)
        if callable(fn):
            try:
                v = fn()
                if isinstance(v, dict):
                    return v
            except Exception:
                pass
    if hasattr(o, "__iter__") and not isinstance(o, (str, dict)):
        try:
            return list(o)[:1000]
        except Exception:
            pass
    r = repr(o)
    return r if len(r) <= MAX_REPR else r[:MAX_REPR] + "…"


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=to_jsonable)
try:
    # The C encoder, made once instead of on every encode() call. Without its
    # cycle check: a cycle ends in RecursionError, which dumps() handles.
    from json.encoder import c_make_encoder as _c_make_encoder, encode_basestring as _encode_str

    _c_encode = _c_make_encoder(None, to_jsonable, _encode_str, None, ":", ",", False, False, True)
except ImportError:  # a Python without the _json accelerator
    _c_encode = None


def _encode(doc: dict) -> bytes:
    if _c_encode is not None:
        return "".join(_c_encode(doc, 0)).encode("utf-8", "replace")
    return _encoder.encode(doc).encode("utf-8", "replace")


def _safe(value: Any) -> Any:
    try:
        _encoder.encode(value)
        return value
    except Exception:
        r = repr(value)
        return "[spanvault: not JSON: %s]" % (r if len(r) <= MAX_REPR else r[:MAX_REPR] + "…")


def dumps(doc: dict, max_bytes: int) -> Tuple[Optional[bytes], bool, bool]:
    """(line without newline or None if nothing fits, truncated, a value fell back to repr)."""
    fallback = False
    try:
        line = _encode(doc)
    except Exception:
        # One field is the culprit (a cycle, a failing model_dump, ...): keep
        # the others as they are.
        doc = {k: _safe(v) for k, v in doc.items()}
        fallback = True
        try:
            line = _encode(doc)
        except Exception:
            return None, False, True
    if len(line) <= max_bytes:
        return line, False, fallback
    doc = dict(doc)
    attributes = dict(doc.get("attributes") or {})
    for key in _BIG_FIELDS:
        if key in doc and key != "attributes":
            size = len(_encode({key: doc[key]}))
            if size > 1024:
                doc[key] = "[spanvault: truncated %d bytes]" % size
                attributes["spanvault.truncated"] = attributes.get("spanvault.truncated", []) + [key]
    if "attributes" in doc and len(_encode({"a": doc["attributes"]})) > max_bytes // 2:
        attributes = {"spanvault.truncated": attributes.get("spanvault.truncated", []) + ["attributes"]}
    doc["attributes"] = attributes
    line = _encode(doc)
    return (line if len(line) <= max_bytes else None), True, fallback
