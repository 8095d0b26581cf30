"""Spans, the current span (a ``contextvars.ContextVar``) and the client state.

A ``Span`` collects its fields in memory and becomes one NDJSON line when it
ends (``end()``, or leaving its ``with`` block); only then does it touch the
sender's queue. The current span is carried by a ``ContextVar``, so it follows
``await``, every ``asyncio`` task (tasks copy the context when created),
generators wrapped by ``traced``, and threads started through
``contextvars.copy_context().run``.

Thread-safety: a span is meant to be used by one thread or task at a time;
``end()`` is idempotent.
"""

import contextvars
import sys
import time
import traceback
from typing import Any, Dict, Iterable, Optional, Union

from . import _ids
from ._serialize import dumps
from ._traceparent import SpanContext, format_traceparent, parse_traceparent

SPAN_TYPES = ("span", "generation", "embedding", "retrieval", "tool", "agent", "chain", "guardrail",
              "evaluator", "event")

_current: contextvars.ContextVar = contextvars.ContextVar("spanvault_current_span", default=None)


class _Client:
    """What ``init`` configured; one per process (replaced by ``init``)."""

    def __init__(self, sender, service=None, environment=None, release=None, capture_input=True,
                 capture_output=True, max_span_bytes=(1 << 20) - 4096, otel=True):
        self.sender = sender
        self.base: Dict[str, Any] = {}
        if service:
            self.base["service"] = service
        if environment:
            self.base["environment"] = environment
        if release:
            self.base["release"] = release
        self.capture_input = capture_input
        self.capture_output = capture_output
        self.max_span_bytes = max_span_bytes
        self.otel = otel
        self.counts = {"truncated": 0, "serialize_fallbacks": 0, "dropped_unserializable": 0,
                       "internal_errors": 0, "last_internal_error": None}

    def emit(self, doc: Dict[str, Any]) -> None:
        line, truncated, fallback = dumps(doc, self.max_span_bytes)
        if truncated:
            self.counts["truncated"] += 1
        if fallback:
            self.counts["serialize_fallbacks"] += 1
        if line is None:
            self.counts["dropped_unserializable"] += 1
            return
        self.sender.enqueue(line)


_client_holder: list = [None]  # set by spanvault.init (or lazily on first use)


def internal_error(exc: BaseException) -> None:
    """Counts a failure of the library itself (never raised into the app):
    ``stats()["internal_errors"]`` and ``last_internal_error``."""
    c = _client_holder[0]
    if c is not None:
        c.counts["internal_errors"] += 1
        c.counts["last_internal_error"] = "%s: %s" % (type(exc).__name__, exc)


def _client() -> "_Client":
    c = _client_holder[0]
    if c is None:
        from . import init  # lazy default: service from the environment

        init()
        c = _client_holder[0]
    return c


def _error_doc(exc: BaseException) -> Dict[str, Any]:
    doc = {"type": type(exc).__name__, "message": str(exc)}
    try:
        doc["stack"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8192:]
    except Exception:
        pass
    return doc


def _otel_parent() -> Optional[SpanContext]:
    """The active OpenTelemetry span, when the app uses OpenTelemetry (never imports it)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    try:
        ctx = trace.get_current_span().get_span_context()
        if ctx is not None and ctx.is_valid:
            return SpanContext("%032x" % ctx.trace_id, "%016x" % ctx.span_id, bool(ctx.trace_flags & 1))
    except Exception:
        return None
    return None


def _otel_attach(span: "Span"):
    """Makes ``span`` OpenTelemetry's current span too (as a non-recording span with its
    ids), so spans that OpenTelemetry instrumentation starts inside become its children."""
    trace = sys.modules.get("opentelemetry.trace")
    context = sys.modules.get("opentelemetry.context")
    if trace is None or context is None:
        return None
    try:
        ctx = trace.SpanContext(trace_id=int(span.trace_id, 16), span_id=int(span.span_id, 16), is_remote=False,
                                trace_flags=trace.TraceFlags(1))
        return context.attach(trace.set_span_in_context(trace.NonRecordingSpan(ctx)))
    except Exception:
        return None


def activate(span: "Span") -> tuple:
    """Makes ``span`` current; returns what ``deactivate`` needs."""
    token = _current.set(span)
    otel = _otel_attach(span) if span._client is not None and span._client.otel else None
    return token, otel


def deactivate(tokens: tuple) -> None:
    token, otel = tokens
    if otel is not None:
        try:
            sys.modules["opentelemetry.context"].detach(otel)
        except Exception:
            pass
    try:
        _current.reset(token)
    except ValueError:  # made current in another context
        _current.set(None)


class Span:
    """One step of a trace. Use as ``with start_span(...) as span:`` or call ``end()``."""

    __slots__ = ("name", "type", "trace_id", "span_id", "parent_span_id", "start_ns", "end_ns", "_fields",
                 "_tokens", "_client")

    def __init__(self, name: str, type: str = "span", parent: Union["Span", SpanContext, str, None] = None,
                 start_time: Optional[float] = None, **fields: Any):
        self._client = _client()
        self.name = str(name) if name else "span"
        self.type = type or "span"
        self.start_ns = time.time_ns() if start_time is None else int(start_time * 1e9)
        self.end_ns: Optional[int] = None
        self._tokens: list = []
        self._fields: Dict[str, Any] = {}
        if parent is None:
            parent = _current.get()
            if parent is None and self._client.otel:
                parent = _otel_parent()
        elif isinstance(parent, str):
            parent = parse_traceparent(parent)
        if isinstance(parent, Span):
            self.trace_id = parent.trace_id
            self.parent_span_id: Optional[str] = parent.span_id
            for inherited in ("session_id", "user_id"):
                v = parent._fields.get(inherited)
                if v is not None:
                    self._fields[inherited] = v
        elif isinstance(parent, SpanContext):
            self.trace_id = parent.trace_id
            self.parent_span_id = parent.span_id
        else:
            self.trace_id = _ids.trace_id()
            self.parent_span_id = None
        self.span_id = _ids.span_id()
        if fields:
            self.log(**fields)

    # -- fields ---------------------------------------------------------------

    def log(self, input: Any = None, output: Any = None, expected: Any = None, metadata: Optional[dict] = None,
            metrics: Optional[dict] = None, scores: Optional[dict] = None, usage: Optional[dict] = None,
            model: Optional[str] = None, tags: Optional[Iterable[str]] = None, **more: Any) -> "Span":
        """Sets fields: ``metadata``, ``metrics``, ``scores``, ``usage`` and ``attributes`` merge,
        ``tags`` append, the others replace. Other keywords of the span contract
        (``provider``, ``model_parameters``, ``error``, ``status``, ``cost``, ``session_id``,
        ``user_id``, ``attributes``, ``name``, ``type``) are accepted; unknown ones go into
        ``metadata``. Never raises."""
        f = self._fields
        if input is not None:
            f["input"] = input
        if output is not None:
            f["output"] = output
        if expected is not None:
            f["expected"] = expected
        if model is not None:
            f["model"] = model
        for key, value in (("metadata", metadata), ("metrics", metrics), ("scores", scores), ("usage", usage)):
            if value:
                _merge(f, key, value)
        if tags:
            try:
                f.setdefault("tags", []).extend(t for t in ([tags] if isinstance(tags, str) else tags))
            except TypeError:
                pass
        for key, value in more.items():
            if value is None:
                continue
            if key == "name":
                self.name = str(value)
            elif key == "type":
                self.type = value
            elif key == "attributes":
                _merge(f, "attributes", value)
            elif key == "error":
                f["error"] = _error_doc(value) if isinstance(value, BaseException) else value
            elif key in ("provider", "model_parameters", "status", "cost", "session_id", "user_id",
                         "service", "environment", "release", "span_parents"):
                f[key] = value
            else:
                _merge(f, "metadata", {key: value})
        return self

    def set_attributes(self, attributes: Dict[str, Any]) -> "Span":
        return self.log(attributes=attributes)

    def record_exception(self, exc: BaseException) -> "Span":
        self._fields["error"] = _error_doc(exc)
        return self

    def traceparent(self) -> str:
        return format_traceparent(self.trace_id, self.span_id)

    def context(self) -> SpanContext:
        return SpanContext(self.trace_id, self.span_id)

    @property
    def id(self) -> str:
        return self.span_id

    def start_span(self, name: str, type: str = "span", **fields: Any) -> "Span":
        """A child of this span (whatever the current span is)."""
        return Span(name, type, parent=self, **fields)

    # -- ending ---------------------------------------------------------------

    def end(self, end_time: Optional[float] = None) -> float:
        """Ends the span and queues it for the daemon; later calls do nothing.
        Returns the end time (Unix seconds)."""
        if self.end_ns is not None:
            return self.end_ns / 1e9
        self.end_ns = time.time_ns() if end_time is None else int(end_time * 1e9)
        if self._client is None:  # a stand-in made after a library failure
            return self.end_ns / 1e9
        try:
            kind = self.type
            if kind not in SPAN_TYPES:
                kind = _normalize_type(kind, self._fields)
            doc = {"name": self.name, "type": kind, "trace_id": self.trace_id, "span_id": self.span_id}
            if self.parent_span_id:
                doc["parent_span_id"] = self.parent_span_id
            doc["start_time"] = self.start_ns / 1e9
            doc["end_time"] = max(self.end_ns, self.start_ns) / 1e9
            doc.update(self._client.base)
            doc.update(self._fields)
            self._client.emit(doc)
        except Exception as e:
            internal_error(e)
        return self.end_ns / 1e9

    # -- context manager: the span is current inside the block ------------------

    def __enter__(self) -> "Span":
        self._tokens.append(activate(self))
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._tokens:
            deactivate(self._tokens.pop())
        if exc is not None and not isinstance(exc, GeneratorExit):
            self.record_exception(exc)
        self.end()
        return False

    async def __aenter__(self) -> "Span":
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return "Span(%r, type=%r, trace_id=%s, span_id=%s)" % (self.name, self.type, self.trace_id, self.span_id)


# Other SDKs' span types (Braintrust's among them) → the daemon's.
_TYPE_ALIASES = {"llm": "generation", "task": "span", "function": "span", "score": "evaluator",
                 "eval": "evaluator", "retriever": "retrieval", "embedding": "embedding"}


def _normalize_type(kind: Any, fields: Dict[str, Any]) -> str:
    low = str(kind).lower()
    if low in SPAN_TYPES:
        return low
    if low in _TYPE_ALIASES:
        return _TYPE_ALIASES[low]
    _merge(fields, "attributes", {"spanvault.type": str(kind)})
    return "span"


def _merge(fields: Dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, dict):
        target = fields.get(key)
        if isinstance(target, dict):
            target.update(value)
        else:
            fields[key] = dict(value)
    else:
        fields[key] = value


class NoopSpan:
    """What ``current_span()`` returns outside any span: every method does nothing."""

    name = ""
    type = "span"
    trace_id = ""
    span_id = ""
    parent_span_id = None
    id = ""

    def log(self, *args: Any, **kwargs: Any) -> "NoopSpan":
        return self

    set_attributes = log
    record_exception = log

    def end(self, end_time: Optional[float] = None) -> float:
        return time.time()

    def traceparent(self) -> Optional[str]:
        return None

    def start_span(self, name: str, type: str = "span", **fields: Any) -> Span:
        return Span(name, type, **fields)

    def __enter__(self) -> "NoopSpan":
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def __bool__(self) -> bool:
        return False


NOOP_SPAN = NoopSpan()


def current_span() -> Union[Span, NoopSpan]:
    s = _current.get()
    return s if isinstance(s, Span) else NOOP_SPAN
