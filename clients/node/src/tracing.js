// tracing.js — startSpan, withSpan, traced, currentSpan and trace-context
// propagation.
//
// Contract:
// * startSpan(name, opts) creates a span that is not made current. Its parent
//   is opts.parent when given (a Span, a traceparent string, an extracted
//   context {traceId, spanId}, or null for a new trace), else the current
//   spanvault span, else (otel on) OpenTelemetry's active span, else none.
//   Children inherit trace_id and, unless given, session_id and user_id.
// * withSpan(name, [opts,] fn) runs fn(span) with the span current, ends it
//   when fn returns or its promise settles, records a throw/rejection, and
//   returns fn's result unchanged (the same promise object).
// * traced(fn, opts) wraps sync, async, generator and async-generator
//   functions: input = the arguments (the single argument when there is
//   one), output = the return value (a generator: the yielded values, at
//   most MAX_ITEMS), errors recorded and re-thrown unchanged, `this` passed.
import {activeSpan, otelParent, runWith} from './context.js';
import {getClient} from './client.js';
import {NOOP_SPAN, NoopSpan, Span} from './span.js';
import {extractFrom, parseTraceparent} from './traceparent.js';

export const MAX_ITEMS = 1000;

function parentFrom(p) {
  if (p === null || p === undefined) return null;
  if (p instanceof Span) return p;
  if (p instanceof NoopSpan) return null;
  if (typeof p === 'string') return parseTraceparent(p);
  if (typeof p === 'object') {
    if (typeof p.traceId === 'string' && typeof p.spanId === 'string' && p.traceId !== '') return p;
    if (typeof p.trace_id === 'string' && typeof p.span_id === 'string') {
      return {traceId: p.trace_id, spanId: p.span_id, sessionId: p.session_id, userId: p.user_id};
    }
    return extractFrom(p); // a headers object
  }
  return null;
}

function resolveParent(opts, c) {
  if (opts !== undefined && opts !== null && opts.parent !== undefined) return parentFrom(opts.parent);
  const cur = activeSpan();
  if (cur !== undefined) return cur;
  if (c.otel) return otelParent();
  return null;
}

export function startSpan(name, opts) {
  const c = getClient();
  return new Span(name, resolveParent(opts, c), opts, c);
}

export function currentSpan() {
  const s = activeSpan();
  return s === undefined ? NOOP_SPAN : s;
}

function isThenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

export function withSpan(name, opts, fn) {
  if (typeof opts === 'function') {
    fn = opts;
    opts = undefined;
  }
  if (typeof fn !== 'function') throw new TypeError('withSpan(name, [opts,] fn): fn must be a function');
  const span = startSpan(name, opts);
  let r;
  try {
    r = runWith(span, fn, undefined, [span]);
  } catch (e) {
    span.recordError(e);
    span.end();
    throw e;
  }
  if (isThenable(r)) return settle(r, span, false);
  span.end();
  return r;
}

// Ends the span when the promise settles. A native promise is replaced by
// the chained one, which settles the same way (so an unhandled rejection
// stays unhandled); another thenable (e.g. an SDK's APIPromise with extra
// methods) is returned as is after attaching the handlers.
function settle(r, span, recordOutput) {
  const ok = v => {
    if (recordOutput) span._w.output = v;
    span.end();
    return v;
  };
  const bad = e => {
    span.recordError(e);
    span.end();
    throw e;
  };
  if (r instanceof Promise && r.constructor === Promise) return r.then(ok, bad);
  r.then(ok, e => {
    try {
      bad(e);
    } catch {
      // the caller handles the rejection on r itself
    }
  });
  return r;
}

function collectOutput(span, items, extra, captureOutput) {
  if (!captureOutput) return;
  span._w.output = items;
  if (extra > 0) span.setAttributes({'spanvault.output_items_dropped': extra});
}

function wrapIterator(gen, span, captureOutput, isAsync) {
  const items = [];
  let extra = 0;
  const finish = err => {
    if (span.ended) return;
    if (err !== undefined) span.recordError(err);
    collectOutput(span, items, extra, captureOutput);
    span.end();
  };
  const onResult = res => {
    if (res === null || typeof res !== 'object') return;
    if (res.done) finish();
    else if (captureOutput) {
      if (items.length < MAX_ITEMS) items.push(res.value);
      else extra++;
    }
  };
  const step = (method, arg) => {
    let r;
    try {
      r = runWith(span, gen[method], gen, [arg]);
    } catch (e) {
      finish(e);
      throw e;
    }
    if (isAsync) {
      return Promise.resolve(r).then(res => {
        onResult(res);
        return res;
      }, e => {
        finish(e);
        throw e;
      });
    }
    onResult(r);
    return r;
  };
  const it = {
    next: v => step('next', v),
    return: v => step('return', v),
    throw: e => step('throw', e),
  };
  if (isAsync) it[Symbol.asyncIterator] = function () {
    return this;
  };
  else it[Symbol.iterator] = function () {
    return this;
  };
  return it;
}

const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor;
const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor;

export function traced(fn, opts) {
  if (typeof fn !== 'function') throw new TypeError('traced(fn, opts): fn must be a function');
  const o = opts || {};
  const name = o.name || fn.name || 'anonymous';
  const fields = {...o};
  delete fields.name;
  delete fields.captureInput;
  delete fields.captureOutput;
  const isGen = fn instanceof GeneratorFunction;
  const isAsyncGen = fn instanceof AsyncGeneratorFunction;
  const wrapped = function (...args) {
    const c = getClient();
    const ci = o.captureInput !== undefined ? o.captureInput : c.captureInput;
    const co = o.captureOutput !== undefined ? o.captureOutput : c.captureOutput;
    const span = new Span(name, resolveParent(fields, c), fields, c);
    if (ci) span._w.input = args.length === 1 ? args[0] : args;
    let r;
    try {
      r = new.target !== undefined
        ? runWith(span, () => Reflect.construct(fn, args, new.target), undefined, [])
        : runWith(span, fn, this, args);
    } catch (e) {
      span.recordError(e);
      span.end();
      throw e;
    }
    if (isGen || isAsyncGen) return wrapIterator(r, span, co, isAsyncGen);
    if (isThenable(r)) return settle(r, span, co);
    if (co) span._w.output = r;
    span.end();
    return r;
  };
  try {
    Object.defineProperty(wrapped, 'name', {value: fn.name, configurable: true});
    Object.defineProperty(wrapped, 'length', {value: fn.length, configurable: true});
  } catch {
    // non-configurable: keep the wrapper's own
  }
  return wrapped;
}

/** Sets headers.traceparent from the current span; returns headers. */
export function injectTraceparent(headers = {}) {
  const s = activeSpan();
  if (s === undefined) return headers;
  const v = s.traceparent();
  if (headers !== null && typeof headers === 'object') {
    if (typeof headers.set === 'function' && typeof headers.get === 'function') headers.set('traceparent', v);
    else headers.traceparent = v;
  }
  return headers;
}

/** A parent context from a traceparent string or a headers object, or null. */
export function extractTraceparent(headersOrString) {
  try {
    return extractFrom(headersOrString);
  } catch {
    return null;
  }
}
