"""``@traced``: a span around each call of a function, coroutine function or generator.

The span is the current span while the function's own code runs (for a
generator: while it computes each item, not while the caller holds it), so
spans started inside become its children. Input = the call's arguments by
name (``self``/``cls`` left out), output = the return value (for a
generator: the items, at most ``MAX_ITEMS``); an exception is recorded as the
span's ``error`` and re-raised unchanged. If the library itself fails, the
function still runs, untraced.
"""

import functools
import inspect
from typing import Any, Callable, Dict, Optional

from ._span import Span, _client, activate, deactivate, internal_error

MAX_ITEMS = 1000


def _arguments(sig: Optional[inspect.Signature], args: tuple, kwargs: dict) -> Any:
    if sig is None:
        return {"args": list(args), "kwargs": kwargs} if kwargs else list(args)
    try:
        bound = sig.bind_partial(*args, **kwargs)
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}
    out: Dict[str, Any] = {}
    for i, (k, v) in enumerate(bound.arguments.items()):
        if i == 0 and k in ("self", "cls"):
            continue
        param = sig.parameters.get(k)
        if param is not None and param.kind is inspect.Parameter.VAR_KEYWORD and isinstance(v, dict):
            out.update(v)
        else:
            out[k] = v
    return out


def traced(fn: Optional[Callable] = None, *, name: Optional[str] = None, type: str = "span",
           capture_input: Optional[bool] = None, capture_output: Optional[bool] = None, **fields: Any):
    """``@traced``, ``@traced("name")`` or ``@traced(name=..., type=..., capture_input=False, ...)``.

    Extra keywords (``model``, ``tags``, ``metadata``, ...) are logged on every span."""
    if isinstance(fn, str):
        return functools.partial(traced, name=fn, type=type, capture_input=capture_input,
                                 capture_output=capture_output, **fields)
    if fn is None:
        return functools.partial(traced, name=name, type=type, capture_input=capture_input,
                                 capture_output=capture_output, **fields)
    return _wrap(fn, name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "call"), type,
                 capture_input, capture_output, fields)


def _wrap(fn: Callable, name: str, kind: str, capture_input: Optional[bool], capture_output: Optional[bool],
          fields: Dict[str, Any]) -> Callable:
    try:
        sig: Optional[inspect.Signature] = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None

    def begin(args: tuple, kwargs: dict) -> Optional[Span]:
        try:
            span = Span(name, kind, **fields)
            take_input = span._client.capture_input if capture_input is None else capture_input
            if take_input:
                span._fields["input"] = _arguments(sig, args, kwargs)
            return span
        except Exception as e:
            internal_error(e)
            return None

    def wants_output() -> bool:
        return _client().capture_output if capture_output is None else capture_output

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def async_gen_wrapper(*args: Any, **kwargs: Any):
            span = begin(args, kwargs)
            if span is None:
                async for item in fn(*args, **kwargs):
                    yield item
                return
            keep = wants_output()
            items: list = []
            agen = fn(*args, **kwargs)
            to_send: Any = None
            to_throw: Optional[BaseException] = None
            try:
                while True:
                    token = activate(span)
                    try:
                        if to_throw is not None:
                            exc, to_throw = to_throw, None
                            item = await agen.athrow(exc)
                        else:
                            item = await agen.asend(to_send)
                    except StopAsyncIteration:
                        break
                    finally:
                        deactivate(token)
                    if keep and len(items) < MAX_ITEMS:
                        items.append(item)
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        await agen.aclose()
                        raise
                    except BaseException as e:
                        to_throw = e
                if keep:
                    span._fields["output"] = items
            except GeneratorExit:
                raise
            except BaseException as e:
                span.record_exception(e)
                raise
            finally:
                span.end()

        return async_gen_wrapper

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any):
            span = begin(args, kwargs)
            if span is None:
                return (yield from fn(*args, **kwargs))
            keep = wants_output()
            items: list = []
            gen = fn(*args, **kwargs)
            to_send: Any = None
            to_throw: Optional[BaseException] = None
            result: Any = None
            try:
                while True:
                    token = activate(span)
                    try:
                        if to_throw is not None:
                            exc, to_throw = to_throw, None
                            item = gen.throw(exc)
                        else:
                            item = gen.send(to_send)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    finally:
                        deactivate(token)
                    if keep and len(items) < MAX_ITEMS:
                        items.append(item)
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        gen.close()
                        raise
                    except BaseException as e:
                        to_throw = e
                if keep:
                    span._fields["output"] = items if result is None else result
                return result
            except GeneratorExit:
                raise
            except BaseException as e:
                span.record_exception(e)
                raise
            finally:
                span.end()

        return gen_wrapper

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any):
            span = begin(args, kwargs)
            if span is None:
                return await fn(*args, **kwargs)
            token = activate(span)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as e:
                span.record_exception(e)
                raise
            else:
                if wants_output():
                    span._fields["output"] = result
                return result
            finally:
                deactivate(token)
                span.end()

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any):
        span = begin(args, kwargs)
        if span is None:
            return fn(*args, **kwargs)
        token = activate(span)
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:
            span.record_exception(e)
            raise
        else:
            if wants_output():
                span._fields["output"] = result
            return result
        finally:
            deactivate(token)
            span.end()

    return wrapper
