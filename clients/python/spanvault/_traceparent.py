"""W3C Trace Context ``traceparent`` (version 00): parse and format.

``00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>``; ids all zero, upper
case hex or a wrong length make the header invalid (``parse`` returns None),
as the specification asks. Future versions are read by their first four
fields, also as the specification asks.
"""

import re
from typing import Mapping, NamedTuple, Optional

_HEADER = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


class SpanContext(NamedTuple):
    """A parent that lives elsewhere (another service, an OpenTelemetry span)."""

    trace_id: str
    span_id: str
    sampled: bool = True

    def traceparent(self) -> str:
        return format_traceparent(self.trace_id, self.span_id, self.sampled)


def format_traceparent(trace_id: str, span_id: str, sampled: bool = True) -> str:
    return "00-%s-%s-%s" % (trace_id, span_id, "01" if sampled else "00")


def parse_traceparent(value: Optional[str]) -> Optional[SpanContext]:
    if not isinstance(value, str):
        return None
    m = _HEADER.match(value.strip())
    if m is None:
        return None
    version, trace, span, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest) or trace == "0" * 32 or span == "0" * 16:
        return None
    return SpanContext(trace, span, bool(int(flags, 16) & 1))


def header_value(headers: Mapping, name: str = "traceparent") -> Optional[str]:
    """A header's value from a dict-like of headers, in any case of its name."""
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is not None:
        v = getter(name)
        if v is None:
            v = getter(name.title())
        if v is not None:
            return v[0] if isinstance(v, (list, tuple)) and v else v
    try:
        for k, v in headers.items():
            if isinstance(k, str) and k.lower() == name:
                return v[0] if isinstance(v, (list, tuple)) and v else v
    except Exception:
        pass
    return None
