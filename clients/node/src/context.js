// context.js — which span is current.
//
// Contract: runWith(span, fn) runs fn with `span` current for everything it
// starts (awaits, timers, promises: AsyncLocalStorage); activeSpan() returns
// the current spanvault span or undefined. otelParent() returns
// {traceId, spanId} of OpenTelemetry's active span when @opentelemetry/api is
// resolvable from the app (looked up once, lazily, from process.cwd() or
// the main script) and its span context is valid, else null. With the API
// there, runWith also makes the span OTel's active span. Nothing here
// throws.
import {AsyncLocalStorage} from 'node:async_hooks';
import {createRequire} from 'node:module';

const storage = new AsyncLocalStorage();

export function runWith(span, fn, thisArg, args) {
  const ctx = otelEnabled ? otelContextOf(span) : null;
  if (ctx !== null) return storage.run(span, () => otelApi.context.with(ctx, fn, thisArg, ...args));
  return storage.run(span, () => fn.apply(thisArg, args));
}

// Set by the client (init's `otel`): while a spanvault span is current it is
// also OpenTelemetry's active span (a non-recording span with its ids), so
// spans that OTel instrumentation starts inside it become its children.
let otelEnabled = true;

export function setOtelEnabled(on) {
  otelEnabled = on;
}

function otelContextOf(span) {
  const api = loadOtel();
  if (api === null || !api.context || typeof api.trace.wrapSpanContext !== 'function') return null;
  try {
    const wrapped = api.trace.wrapSpanContext({traceId: span.traceId, spanId: span.spanId, traceFlags: 1});
    return api.trace.setSpan(api.context.active(), wrapped);
  } catch {
    return null;
  }
}

export function activeSpan() {
  return storage.getStore();
}

let otelApi; // undefined: not looked up yet; null: absent

export function loadOtel() {
  if (otelApi !== undefined) return otelApi;
  otelApi = null;
  // The app's copy of the API (it holds the global tracer provider and
  // context manager): resolved from the working directory, else from the
  // main script.
  const bases = [process.cwd() + '/'];
  if (typeof process.argv[1] === 'string' && process.argv[1] !== '') bases.push(process.argv[1]);
  for (const base of bases) {
    try {
      const api = createRequire(base)('@opentelemetry/api');
      if (api && api.trace && typeof api.trace.getActiveSpan === 'function') {
        otelApi = api;
        break;
      }
    } catch {
      // not installed there: fine
    }
  }
  return otelApi;
}

/** For tests: forget the OTel lookup (or force an api object). */
export function _setOtel(api) {
  otelApi = api;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

export function otelParent() {
  const api = loadOtel();
  if (api === null) return null;
  try {
    const s = api.trace.getActiveSpan();
    if (!s) return null;
    const sc = s.spanContext();
    if (!sc || !HEX32.test(sc.traceId) || !HEX16.test(sc.spanId)) return null;
    if (/^0+$/.test(sc.traceId) || /^0+$/.test(sc.spanId)) return null;
    return {traceId: sc.traceId, spanId: sc.spanId};
  } catch {
    return null;
  }
}
