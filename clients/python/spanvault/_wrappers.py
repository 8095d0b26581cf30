"""``wrap_openai`` and ``wrap_anthropic``: a span per model call of the official SDK clients.

Duck-typed: nothing here imports ``openai`` or ``anthropic``. The wrapper is a
proxy of the client that intercepts these calls, sync and async, streaming
included, and passes everything else through:

* OpenAI: ``chat.completions.create``/``parse``, ``completions.create``,
  ``responses.create``/``parse``, ``embeddings.create`` (also through
  ``with_options(...)``, ``beta``);
* Anthropic: ``messages.create`` (also ``beta.messages.create``).

Each call becomes a ``generation`` span (``embedding`` for embeddings), child
of the current span, with provider, model, model parameters, input
(messages), output (assistant messages / output items / content blocks),
usage as the provider reports it (the daemon reads OpenAI's and Anthropic's
key names; the Responses API's are mapped to the canonical ones), time to
first token for streams (``metrics.time_to_first_token``, seconds) and
errors. A stream's span ends when the stream is exhausted, closed, fails or
is garbage collected.
"""

import functools
import inspect
import time
from typing import Any, Callable, Dict, List, Optional

from ._serialize import _NO_DUMP, model_dump
from ._span import Span, internal_error

_NOT_PARAMETERS = {"messages", "input", "prompt", "model", "stream", "system", "instructions", "extra_headers",
                   "extra_query", "extra_body", "timeout", "stream_options"}


def _get(o: Any, key: str, default: Any = None) -> Any:
    if o is None:
        return default
    if isinstance(o, dict):
        return o.get(key, default)
    return getattr(o, key, default)


def _plain(o: Any) -> Any:
    """An SDK object as plain JSON-able data (pydantic ``model_dump``), else as is."""
    try:
        dumped = model_dump(o)
    except Exception:
        return o
    if dumped is not _NO_DUMP:
        return dumped
    if isinstance(o, list):
        return [_plain(x) for x in o]
    return o


def _counts(usage: Any) -> Optional[Dict[str, Any]]:
    """Usage with only its counts (ints and objects of ints); None if empty."""
    d = _plain(usage)
    if not isinstance(d, dict):
        return None
    out: Dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            out[k] = v
        elif isinstance(v, dict):
            inner = {ik: iv for ik, iv in v.items() if isinstance(iv, int) and not isinstance(iv, bool)}
            if inner:
                out[k] = inner
    return out or None


def _responses_usage(usage: Any) -> Optional[Dict[str, Any]]:
    d = _counts(usage)
    if d is None:
        return None
    out = {k: d[k] for k in ("input_tokens", "output_tokens", "total_tokens") if k in d}
    cached = (d.get("input_tokens_details") or {}).get("cached_tokens")
    reasoning = (d.get("output_tokens_details") or {}).get("reasoning_tokens")
    if cached:
        out["cache_read_tokens"] = cached
    if reasoning:
        out["reasoning_tokens"] = reasoning
    return out or None


def _parameters(kwargs: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    params = {k: _plain(v) for k, v in kwargs.items() if k not in _NOT_PARAMETERS and v is not None}
    return params or None


class _Call:
    """What one intercepted method records; subclasses know one API's shapes."""

    name = "call"
    type = "generation"
    provider = "openai"

    def input(self, kwargs: Dict[str, Any]) -> Any:
        return _plain(kwargs.get("messages"))

    def finish(self, span: Span, result: Any) -> None:
        raise NotImplementedError

    def stream_state(self) -> "_StreamState":
        return _StreamState()


class _StreamState:
    """Accumulates a stream's events; ``first`` is set by the first content."""

    def __init__(self) -> None:
        self.first: Optional[float] = None

    def add(self, event: Any, now: float) -> None:
        pass

    def finish(self, span: Span) -> None:
        pass


# -- OpenAI ------------------------------------------------------------------------


class _ChatCall(_Call):
    name = "openai.chat.completions.create"

    def finish(self, span: Span, result: Any) -> None:
        d = _plain(result)
        if not isinstance(d, dict):
            span.log(output=d)
            return
        choices = d.get("choices") or []
        span.log(output=[c.get("message") for c in choices if isinstance(c, dict)], model=d.get("model"),
                 usage=_counts(d.get("usage")))
        reasons = [c.get("finish_reason") for c in choices if isinstance(c, dict) and c.get("finish_reason")]
        if reasons:
            span.log(metadata={"finish_reason": reasons[0] if len(reasons) == 1 else reasons})

    def stream_state(self) -> "_StreamState":
        return _ChatStream()


class _ChatStream(_StreamState):
    def __init__(self) -> None:
        super().__init__()
        self.messages: Dict[int, Dict[str, Any]] = {}
        self.tool_calls: Dict[int, Dict[int, Dict[str, Any]]] = {}
        self.finish_reasons: List[str] = []
        self.usage: Any = None
        self.model: Optional[str] = None

    def add(self, chunk: Any, now: float) -> None:
        self.model = _get(chunk, "model") or self.model
        usage = _get(chunk, "usage")
        if usage is not None:
            self.usage = usage
        for choice in _get(chunk, "choices") or []:
            index = _get(choice, "index", 0) or 0
            msg = self.messages.setdefault(index, {"role": "assistant", "content": ""})
            delta = _get(choice, "delta")
            role = _get(delta, "role")
            if role:
                msg["role"] = role
            text = _get(delta, "content")
            if text:
                if self.first is None:
                    self.first = now
                msg["content"] += text
            for tc in _get(delta, "tool_calls") or []:
                if self.first is None:
                    self.first = now
                slot = self.tool_calls.setdefault(index, {}).setdefault(
                    _get(tc, "index", 0) or 0, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                if _get(tc, "id"):
                    slot["id"] = _get(tc, "id")
                fn = _get(tc, "function")
                if _get(fn, "name"):
                    slot["function"]["name"] += _get(fn, "name")
                if _get(fn, "arguments"):
                    slot["function"]["arguments"] += _get(fn, "arguments")
            reason = _get(choice, "finish_reason")
            if reason:
                self.finish_reasons.append(reason)

    def finish(self, span: Span) -> None:
        out = []
        for index in sorted(self.messages):
            msg = dict(self.messages[index])
            if index in self.tool_calls:
                msg["tool_calls"] = [self.tool_calls[index][i] for i in sorted(self.tool_calls[index])]
                if not msg["content"]:
                    msg["content"] = None
            out.append(msg)
        span.log(output=out, model=self.model, usage=_counts(self.usage))
        if self.finish_reasons:
            span.log(metadata={"finish_reason": self.finish_reasons[0] if len(self.finish_reasons) == 1
                               else self.finish_reasons})


class _CompletionCall(_Call):
    name = "openai.completions.create"

    def input(self, kwargs: Dict[str, Any]) -> Any:
        return _plain(kwargs.get("prompt"))

    def finish(self, span: Span, result: Any) -> None:
        d = _plain(result)
        if isinstance(d, dict):
            texts = [c.get("text") for c in d.get("choices") or [] if isinstance(c, dict)]
            span.log(output=texts[0] if len(texts) == 1 else texts, model=d.get("model"),
                     usage=_counts(d.get("usage")))

    def stream_state(self) -> "_StreamState":
        return _CompletionStream()


class _CompletionStream(_StreamState):
    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.usage: Any = None
        self.model: Optional[str] = None

    def add(self, chunk: Any, now: float) -> None:
        self.model = _get(chunk, "model") or self.model
        if _get(chunk, "usage") is not None:
            self.usage = _get(chunk, "usage")
        for choice in _get(chunk, "choices") or []:
            if _get(choice, "text"):
                if self.first is None:
                    self.first = now
                self.text += _get(choice, "text")

    def finish(self, span: Span) -> None:
        span.log(output=self.text, model=self.model, usage=_counts(self.usage))


class _ResponsesCall(_Call):
    name = "openai.responses.create"

    def input(self, kwargs: Dict[str, Any]) -> Any:
        given = _plain(kwargs.get("input"))
        instructions = kwargs.get("instructions")
        if instructions:
            return {"instructions": instructions, "input": given}
        return given

    def finish(self, span: Span, result: Any) -> None:
        d = _plain(result)
        if not isinstance(d, dict):
            span.log(output=d)
            return
        span.log(output=d.get("output"), model=d.get("model"), usage=_responses_usage(d.get("usage")))
        if d.get("error"):
            span.log(error=d.get("error"))

    def stream_state(self) -> "_StreamState":
        return _ResponsesStream(self)


class _ResponsesStream(_StreamState):
    def __init__(self, call: _ResponsesCall) -> None:
        super().__init__()
        self.call = call
        self.text = ""
        self.final: Any = None

    def add(self, event: Any, now: float) -> None:
        kind = _get(event, "type") or ""
        if kind == "response.output_text.delta":
            if self.first is None:
                self.first = now
            self.text += _get(event, "delta") or ""
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = _get(event, "response")

    def finish(self, span: Span) -> None:
        if self.final is not None:
            self.call.finish(span, self.final)
        elif self.text:
            span.log(output=self.text)


class _EmbeddingsCall(_Call):
    name = "openai.embeddings.create"
    type = "embedding"

    def input(self, kwargs: Dict[str, Any]) -> Any:
        return _plain(kwargs.get("input"))

    def finish(self, span: Span, result: Any) -> None:
        data = _get(result, "data") or []
        first = _get(data[0], "embedding") if data else None
        span.log(output={"embeddings": len(data), "dimensions": len(first) if isinstance(first, list) else None},
                 model=_get(result, "model"), usage=_counts(_get(result, "usage")))


# -- Anthropic ---------------------------------------------------------------------


class _MessagesCall(_Call):
    name = "anthropic.messages.create"
    provider = "anthropic"

    def input(self, kwargs: Dict[str, Any]) -> Any:
        messages = _plain(kwargs.get("messages"))
        system = _plain(kwargs.get("system"))
        return {"system": system, "messages": messages} if system else messages

    def finish(self, span: Span, result: Any) -> None:
        d = _plain(result)
        if not isinstance(d, dict):
            span.log(output=d)
            return
        span.log(output={"role": d.get("role", "assistant"), "content": d.get("content")}, model=d.get("model"),
                 usage=_counts(d.get("usage")))
        if d.get("stop_reason"):
            span.log(metadata={"stop_reason": d.get("stop_reason")})

    def stream_state(self) -> "_StreamState":
        return _MessagesStream()


class _MessagesStream(_StreamState):
    def __init__(self) -> None:
        super().__init__()
        self.blocks: Dict[int, Dict[str, Any]] = {}
        self.partial_json: Dict[int, str] = {}
        self.usage: Dict[str, Any] = {}
        self.model: Optional[str] = None
        self.stop_reason: Optional[str] = None

    def add(self, event: Any, now: float) -> None:
        kind = _get(event, "type")
        if kind == "message_start":
            msg = _get(event, "message")
            self.model = _get(msg, "model")
            self.usage.update(_counts(_get(msg, "usage")) or {})
        elif kind == "content_block_start":
            block = _plain(_get(event, "content_block"))
            self.blocks[_get(event, "index", 0) or 0] = dict(block) if isinstance(block, dict) else {"value": block}
        elif kind == "content_block_delta":
            if self.first is None:
                self.first = now
            index = _get(event, "index", 0) or 0
            block = self.blocks.setdefault(index, {"type": "text", "text": ""})
            delta = _get(event, "delta")
            dtype = _get(delta, "type")
            if dtype == "text_delta":
                block["text"] = (block.get("text") or "") + (_get(delta, "text") or "")
            elif dtype == "input_json_delta":
                self.partial_json[index] = self.partial_json.get(index, "") + (_get(delta, "partial_json") or "")
            elif dtype == "thinking_delta":
                block["thinking"] = (block.get("thinking") or "") + (_get(delta, "thinking") or "")
        elif kind == "message_delta":
            self.usage.update(_counts(_get(event, "usage")) or {})
            self.stop_reason = _get(_get(event, "delta"), "stop_reason") or self.stop_reason

    def finish(self, span: Span) -> None:
        import json

        content = []
        for index in sorted(self.blocks):
            block = dict(self.blocks[index])
            if index in self.partial_json:
                try:
                    block["input"] = json.loads(self.partial_json[index]) if self.partial_json[index] else {}
                except ValueError:
                    block["input"] = self.partial_json[index]
            content.append(block)
        span.log(output={"role": "assistant", "content": content}, model=self.model, usage=self.usage or None)
        if self.stop_reason:
            span.log(metadata={"stop_reason": self.stop_reason})


# -- the proxies -------------------------------------------------------------------


def _begin(call: _Call, kwargs: Dict[str, Any]) -> Optional[Span]:
    try:
        span = Span(call.name, call.type, provider=call.provider, model=kwargs.get("model"),
                    model_parameters=_parameters(kwargs))
        if span._client.capture_input:
            span._fields["input"] = call.input(kwargs)
        return span
    except Exception as e:
        internal_error(e)
        return None


def _fail(span: Span, exc: BaseException) -> None:
    try:
        span.record_exception(exc)
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            span.log(metadata={"http_status": status})
        span.end()
    except Exception as e:
        internal_error(e)


def _done(call: _Call, span: Span, result: Any) -> None:
    try:
        if span._client.capture_output:
            call.finish(span, result)
        else:
            d = _plain(result)
            usage = d.get("usage") if isinstance(d, dict) else None
            span.log(usage=_responses_usage(usage) if isinstance(call, _ResponsesCall) else _counts(usage))
    except Exception as e:
        internal_error(e)
    span.end()


def _intercept(call: _Call, original: Callable) -> Callable:
    @functools.wraps(original)
    def method(*args: Any, **kwargs: Any) -> Any:
        span = _begin(call, kwargs)
        if span is None:
            return original(*args, **kwargs)
        started = time.monotonic()
        try:
            result = original(*args, **kwargs)
        except BaseException as e:
            _fail(span, e)
            raise
        if inspect.isawaitable(result):
            return _await(call, span, result, kwargs, started)
        if kwargs.get("stream"):
            return _Stream(result, call, span, started)
        _done(call, span, result)
        return result

    return method


async def _await(call: _Call, span: Span, awaitable: Any, kwargs: Dict[str, Any], started: float) -> Any:
    try:
        result = await awaitable
    except BaseException as e:
        _fail(span, e)
        raise
    if kwargs.get("stream"):
        return _AsyncStream(result, call, span, started)
    _done(call, span, result)
    return result


class _StreamBase:
    def __init__(self, stream: Any, call: _Call, span: Span, started: float) -> None:
        self._sv_stream = stream
        self._sv_span = span
        self._sv_started = started
        self._sv_state = call.stream_state()
        self._sv_done = False

    def _sv_add(self, item: Any) -> None:
        try:
            self._sv_state.add(item, time.monotonic())
        except Exception as e:
            internal_error(e)

    def _sv_finish(self, exc: Optional[BaseException] = None) -> None:
        if self._sv_done:
            return
        self._sv_done = True
        span = self._sv_span
        try:
            if self._sv_state.first is not None:
                span.log(metrics={"time_to_first_token": round(self._sv_state.first - self._sv_started, 6)})
            if span._client.capture_output:
                self._sv_state.finish(span)
            else:
                usage = getattr(self._sv_state, "usage", None)
                span.log(usage=usage if isinstance(usage, dict) else _counts(usage))
            if exc is not None:
                span.record_exception(exc)
        except Exception as e:
            internal_error(e)
        span.end()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_sv_"):
            raise AttributeError(name)
        return getattr(self._sv_stream, name)

    def __del__(self) -> None:
        try:
            if not self._sv_done:
                self._sv_span.log(metadata={"stream_abandoned": True})
                self._sv_finish()
        except Exception:
            pass


class _Stream(_StreamBase):
    """The SDK's sync stream, iterated through; the span ends with it."""

    def __iter__(self) -> "_Stream":
        self._sv_iter = iter(self._sv_stream)
        return self

    def __next__(self) -> Any:
        it = self.__dict__.get("_sv_iter")
        if it is None:
            it = self._sv_iter = iter(self._sv_stream)
        try:
            item = next(it)
        except StopIteration:
            self._sv_finish()
            raise
        except BaseException as e:
            self._sv_finish(e)
            raise
        self._sv_add(item)
        return item

    def __enter__(self) -> "_Stream":
        enter = getattr(self._sv_stream, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, *exc: Any) -> Any:
        try:
            exit_ = getattr(self._sv_stream, "__exit__", None)
            return exit_(*exc) if exit_ is not None else None
        finally:
            self._sv_finish(exc[1] if exc and isinstance(exc[1], Exception) else None)

    def close(self) -> None:
        try:
            close = getattr(self._sv_stream, "close", None)
            if close is not None:
                close()
        finally:
            self._sv_finish()


class _AsyncStream(_StreamBase):
    """The SDK's async stream, iterated through; the span ends with it."""

    def __aiter__(self) -> "_AsyncStream":
        self._sv_iter = self._sv_stream.__aiter__()
        return self

    async def __anext__(self) -> Any:
        it = self.__dict__.get("_sv_iter")
        if it is None:
            it = self._sv_iter = self._sv_stream.__aiter__()
        try:
            item = await it.__anext__()
        except StopAsyncIteration:
            self._sv_finish()
            raise
        except BaseException as e:
            self._sv_finish(e)
            raise
        self._sv_add(item)
        return item

    async def __aenter__(self) -> "_AsyncStream":
        enter = getattr(self._sv_stream, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            exit_ = getattr(self._sv_stream, "__aexit__", None)
            return (await exit_(*exc)) if exit_ is not None else None
        finally:
            self._sv_finish(exc[1] if exc and isinstance(exc[1], Exception) else None)

    async def close(self) -> None:
        try:
            close = getattr(self._sv_stream, "close", None)
            if close is not None:
                r = close()
                if inspect.isawaitable(r):
                    await r
        finally:
            self._sv_finish()


class _Proxy:
    """Passes everything through to ``target`` except the routes it intercepts."""

    __slots__ = ("_sv_target", "_sv_routes")

    def __init__(self, target: Any, routes: Dict[str, Any]) -> None:
        object.__setattr__(self, "_sv_target", target)
        object.__setattr__(self, "_sv_routes", routes)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._sv_target, name)
        route = self._sv_routes.get(name)
        if route is None:
            return attr
        if isinstance(route, dict):
            return _Proxy(attr, route)
        return route(attr, self._sv_routes)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._sv_target, name, value)

    def __dir__(self) -> List[str]:
        return dir(self._sv_target)

    def __repr__(self) -> str:
        return "<spanvault-wrapped %r>" % (self._sv_target,)


def _leaf(call: _Call) -> Callable:
    return lambda original, _routes: _intercept(call, original)


def _rewrap(routes_root: Dict[str, Any]) -> Callable:
    """``client.with_options(...)``/``copy(...)`` return a new client: wrap it too."""

    def route(original: Callable, _routes: Dict[str, Any]) -> Callable:
        @functools.wraps(original)
        def method(*args: Any, **kwargs: Any) -> Any:
            return _Proxy(original(*args, **kwargs), routes_root)

        return method

    return route


def _openai_routes() -> Dict[str, Any]:
    chat = {"completions": {"create": _leaf(_ChatCall()), "parse": _leaf(_ChatCall())}}
    routes: Dict[str, Any] = {
        "chat": chat,
        "completions": {"create": _leaf(_CompletionCall())},
        "responses": {"create": _leaf(_ResponsesCall()), "parse": _leaf(_ResponsesCall())},
        "embeddings": {"create": _leaf(_EmbeddingsCall())},
        "beta": {"chat": chat},
    }
    routes["with_options"] = _rewrap(routes)
    routes["copy"] = _rewrap(routes)
    return routes


def _anthropic_routes() -> Dict[str, Any]:
    messages = {"create": _leaf(_MessagesCall())}
    routes: Dict[str, Any] = {"messages": messages, "beta": {"messages": messages}}
    routes["with_options"] = _rewrap(routes)
    routes["copy"] = _rewrap(routes)
    return routes


def wrap_openai(client: Any) -> Any:
    """A proxy of an ``openai.OpenAI``/``AsyncOpenAI`` (or Azure) client that traces its model calls."""
    return client if isinstance(client, _Proxy) else _Proxy(client, _openai_routes())


def wrap_anthropic(client: Any) -> Any:
    """A proxy of an ``anthropic.Anthropic``/``AsyncAnthropic`` client that traces ``messages.create``."""
    return client if isinstance(client, _Proxy) else _Proxy(client, _anthropic_routes())
