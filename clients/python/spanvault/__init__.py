"""spanvault: trace LLM apps into the local spanvaultd.

    import spanvault
    spanvault.init(service="rag-api")

    @spanvault.traced
    def answer(question): ...

    with spanvault.start_span("retrieve", type="retrieval") as span:
        span.log(input=query, output=docs)

    client = spanvault.wrap_openai(OpenAI())

Spans go over the daemon's Unix stream socket from a background thread; no
call here blocks the app longer than putting a line into a bounded queue,
and none raises into it (see ``stats()`` for what was dropped). Standard
library only.
"""

import atexit
import contextlib
import os
import threading
from typing import Any, Dict, Iterator, Mapping, MutableMapping, Optional, Union

from . import _ids, _span
from ._sender import Sender
from ._socket import resolve_socket
from ._span import NOOP_SPAN, SPAN_TYPES, NoopSpan, Span, _current, current_span
from ._traced import traced
from ._traceparent import SpanContext, format_traceparent, header_value, parse_traceparent
from ._wrappers import wrap_anthropic, wrap_openai

__version__ = "0.1.0"
__all__ = [
    "init", "traced", "start_span", "current_span", "log", "flush", "stats", "shutdown", "inject", "extract",
    "continue_trace", "wrap_openai", "wrap_anthropic", "Span", "NoopSpan", "SpanContext", "SPAN_TYPES",
]

_init_lock = threading.Lock()


def init(service: Optional[str] = None, environment: Optional[str] = None, release: Optional[str] = None,
         socket: Optional[str] = None, *, capture_input: bool = True, capture_output: bool = True,
         max_queue_spans: int = 20000, max_queue_bytes: int = 32 << 20, batch_size: int = 512,
         flush_interval: float = 0.05, max_span_bytes: int = (1 << 20) - 4096, flush_on_exit: float = 2.0,
         otel: bool = True) -> None:
    """Configures the process's client. Optional: the first span calls it with the defaults.

    ``service`` defaults to ``SPANVAULT_SERVICE`` or ``OTEL_SERVICE_NAME``; ``environment`` to
    ``SPANVAULT_ENVIRONMENT``; ``socket`` is found like the CLI does (``resolve_socket``).
    ``flush_on_exit`` bounds the wait of the ``atexit`` flush (seconds; 0 turns it off). With
    ``otel``, a span started with no spanvault parent joins the active OpenTelemetry span, when
    the app uses OpenTelemetry. Calling ``init`` again replaces the client (after flushing the
    old one for up to a second)."""
    env = os.environ
    sender = Sender(socket if socket else resolve_socket, max_spans=max_queue_spans, max_bytes=max_queue_bytes,
                    batch_size=batch_size, flush_interval=flush_interval)
    client = _span._Client(
        sender,
        service=service or env.get("SPANVAULT_SERVICE") or env.get("OTEL_SERVICE_NAME"),
        environment=environment or env.get("SPANVAULT_ENVIRONMENT"),
        release=release or env.get("SPANVAULT_RELEASE"),
        capture_input=capture_input, capture_output=capture_output, max_span_bytes=max_span_bytes, otel=otel)
    with _init_lock:
        old = _span._client_holder[0]
        _span._client_holder[0] = client
        _exit_timeout[0] = flush_on_exit
    if old is not None:
        old.sender.close(timeout=1.0)


def start_span(name: str, type: str = "span", *, parent: Union[Span, SpanContext, str, None] = None,
               start_time: Optional[float] = None, **fields: Any) -> Span:
    """A new span, child of ``parent`` (a Span, a SpanContext from ``extract``, or a
    ``traceparent`` string), else of the current span. It becomes current inside
    ``with``/``async with``; without them, call ``end()``. ``fields`` as in ``Span.log``."""
    try:
        return Span(name, type, parent=parent, start_time=start_time, **fields)
    except Exception as e:
        _span.internal_error(e)
        return _detached_span(name)


def _detached_span(name: str) -> Span:
    span = Span.__new__(Span)
    span.name, span.type, span.trace_id, span.span_id = name, "span", _ids.trace_id(), _ids.span_id()
    span.parent_span_id, span.start_ns, span.end_ns, span._fields, span._tokens = None, 0, 0, {}, []
    span._client = None
    return span


def log(**fields: Any) -> None:
    """``current_span().log(...)``."""
    current_span().log(**fields)


def flush(timeout: Optional[float] = 5.0) -> bool:
    """Waits until the daemon has made every span ended so far durable. True when it has,
    False after ``timeout`` seconds (the daemon down, say). Never raises."""
    c = _span._client_holder[0]
    if c is None:
        return True
    try:
        return c.sender.flush(timeout)
    except Exception:
        return False


def stats() -> Dict[str, Any]:
    """Counters: enqueued, sent, confirmed, rejected, dropped_queue_full, truncated,
    reconnects, connected, queue_spans, queue_bytes, last_error, socket, ..."""
    c = _span._client_holder[0]
    if c is None:
        return {}
    s = c.sender.snapshot()
    s.update(c.counts)
    s["socket"] = c.sender.path
    return s


def shutdown(timeout: float = 5.0) -> bool:
    """Flushes and stops the sender thread; later spans are dropped (counted)."""
    c = _span._client_holder[0]
    if c is None:
        return True
    try:
        return c.sender.close(timeout)
    except Exception:
        return False


# -- W3C trace context -----------------------------------------------------------


def inject(headers: Optional[MutableMapping[str, str]] = None,
           span: Union[Span, SpanContext, None] = None) -> MutableMapping[str, str]:
    """Sets ``traceparent`` in ``headers`` (a new dict if None) from ``span`` or the
    current span, and returns them; without a span, returns them unchanged."""
    headers = {} if headers is None else headers
    s = span if span is not None else _current.get()
    if isinstance(s, (Span, SpanContext)):
        headers["traceparent"] = format_traceparent(s.trace_id, s.span_id)
    return headers


def extract(headers: Union[Mapping[str, Any], str, None]) -> Optional[SpanContext]:
    """The parent in a ``traceparent`` header (from a headers mapping or the header's
    value), or None when there is none or it is malformed."""
    value = headers if isinstance(headers, str) else header_value(headers)
    return parse_traceparent(value)


@contextlib.contextmanager
def continue_trace(headers: Union[Mapping[str, Any], str, SpanContext, None]) -> Iterator[Optional[SpanContext]]:
    """Spans started inside the block continue the trace in ``headers`` (if any)."""
    ctx = headers if isinstance(headers, SpanContext) else extract(headers)
    if ctx is None:
        yield None
        return
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


# -- process lifecycle -----------------------------------------------------------

_exit_timeout = [2.0]


def _at_exit() -> None:
    c = _span._client_holder[0]
    if c is not None and _exit_timeout[0] > 0:
        try:
            c.sender.close(_exit_timeout[0])
        except Exception:
            pass


def _after_fork_in_child() -> None:
    _ids.reseed()
    c = _span._client_holder[0]
    if c is not None:
        c.sender.after_fork()


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
