// wrappers/common.js — shared machinery of the SDK wrappers.
//
// Contract: wrapClient(client, handlers) returns a Proxy of an SDK client in
// which the methods named by dotted paths in `handlers` (e.g.
// 'chat.completions.create') are replaced by handler(orig, target, args);
// every other property reads through unchanged (methods bound to their real
// object, so SDK private fields keep working). traceLLMCall() runs one SDK
// call in a span: the span starts before the request, a thrown error or
// rejection is recorded and re-thrown unchanged, an SDK APIPromise stays an
// APIPromise (withResponse() keeps working), a stream keeps its object and
// methods (only its iterator is wrapped) and ends the span when iteration
// ends, breaks or fails. Nothing here throws into the app except the SDK's
// own errors.
import {getClient} from '../client.js';
import {startSpan} from '../tracing.js';

const isClass = new WeakMap();

function looksLikeClass(fn) {
  let r = isClass.get(fn);
  if (r === undefined) {
    try {
      r = /^class[\s{]/.test(Function.prototype.toString.call(fn));
    } catch {
      r = false;
    }
    isClass.set(fn, r);
  }
  return r;
}

export function wrapClient(client, handlers) {
  if (client === null || typeof client !== 'object') return client;
  const prefixes = new Set();
  for (const p of Object.keys(handlers)) {
    const parts = p.split('.');
    for (let i = 1; i < parts.length; i++) prefixes.add(parts.slice(0, i).join('.'));
  }
  const proxyOf = (obj, prefix) => {
    const cache = new Map(); // prop → {raw, out}
    return new Proxy(obj, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (typeof prop !== 'string') return v;
        const path = prefix === '' ? prop : prefix + '.' + prop;
        const hit = cache.get(prop);
        if (hit !== undefined && hit.raw === v) return hit.out;
        let out = v;
        if (typeof v === 'function') {
          const h = handlers[path];
          if (h !== undefined) {
            out = function (...args) {
              return h(v, target, args);
            };
          } else if (!looksLikeClass(v)) out = v.bind(target);
        } else if (v !== null && typeof v === 'object' && prefixes.has(path)) {
          out = proxyOf(v, path);
        }
        cache.set(prop, {raw: v, out});
        return out;
      },
    });
  };
  return proxyOf(client, '');
}

/** Usage as reported, without nulls and strings (the daemon wants counts). */
export function cleanUsage(u, depth = 0) {
  if (u === null || typeof u !== 'object' || depth > 2) return undefined;
  const o = {};
  let any = false;
  for (const k of Object.keys(u)) {
    const v = u[k];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) {
      o[k] = Math.round(v);
      any = true;
    } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const c = cleanUsage(v, depth + 1);
      if (c !== undefined) {
        o[k] = c;
        any = true;
      }
    }
  }
  return any ? o : undefined;
}

/** The request body without the keys that are not parameters. */
export function modelParams(body, exclude) {
  const o = {};
  let any = false;
  for (const k of Object.keys(body)) {
    if (exclude.includes(k) || body[k] === undefined) continue;
    o[k] = body[k];
    any = true;
  }
  return any ? o : undefined;
}

function isThenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

/** Wraps the stream's iteration so that `acc` sees each item. */
export function wrapStream(stream, span, acc) {
  const wrapIter = inner => (async function* traced() {
    let err;
    try {
      for await (const item of inner) {
        try {
          acc.onItem(item);
        } catch {
          // accumulating must never break the app's stream
        }
        yield item;
      }
    } catch (e) {
      err = e;
      throw e;
    } finally {
      try {
        if (err !== undefined) span.recordError(err);
        acc.finish(err !== undefined);
      } catch {
        // ignore
      }
      span.end();
    }
  })();
  try {
    if (typeof stream.iterator === 'function') {
      // Stainless SDK Stream: [Symbol.asyncIterator](), tee() and
      // toReadableStream() all go through this.iterator().
      const orig = stream.iterator;
      stream.iterator = function () {
        return wrapIter({[Symbol.asyncIterator]: () => orig.call(stream)});
      };
      return stream;
    }
    if (typeof stream[Symbol.asyncIterator] === 'function') {
      const orig = stream[Symbol.asyncIterator];
      Object.defineProperty(stream, Symbol.asyncIterator, {
        configurable: true,
        writable: true,
        value: function () {
          return wrapIter({[Symbol.asyncIterator]: () => orig.call(stream)});
        },
      });
      return stream;
    }
  } catch {
    // fall through
  }
  span.end();
  return stream;
}

/**
 * One traced SDK call.
 * spec: {name, type, provider, exclude, input(body), onResult(v, span, co),
 *        streamAccumulator(span, t0, co) → {onItem, finish}}
 */
export function traceLLMCall(spec, orig, target, args) {
  const body = args[0];
  if (body === null || typeof body !== 'object') return orig.apply(target, args);
  let span;
  let co = true;
  try {
    const c = getClient();
    co = c.captureOutput;
    span = startSpan(spec.name, {
      type: spec.type,
      provider: spec.provider,
      model: typeof body.model === 'string' ? body.model : undefined,
      modelParameters: modelParams(body, spec.exclude),
    });
    if (c.captureInput) span._w.input = spec.input(body);
  } catch {
    return orig.apply(target, args);
  }
  const t0 = performance.now();
  const isStream = body.stream === true;
  let r;
  try {
    r = orig.apply(target, args);
  } catch (e) {
    span.recordError(e);
    span.end();
    throw e;
  }
  const transform = v => {
    try {
      if (isStream && v !== null && typeof v === 'object') return wrapStream(v, span, spec.streamAccumulator(span, t0, co));
      spec.onResult(v, span, co);
    } catch {
      // recording must never change the result
    }
    span.end();
    return v;
  };
  const onError = e => {
    span.recordError(e);
    span.end();
  };
  if (r !== null && typeof r === 'object' && typeof r._thenUnwrap === 'function') {
    // Stainless APIPromise: keep it one (withResponse(), asResponse()).
    let q;
    try {
      q = r._thenUnwrap(transform);
    } catch {
      q = null;
    }
    if (q !== null && isThenable(q)) {
      // Errors of the request itself reject responsePromise; watching it
      // (not q) keeps parsing lazy, so q.asResponse() still gets an unread
      // body. Success is seen by `transform` when the app reads the result.
      if (isThenable(q.responsePromise)) q.responsePromise.then(undefined, onError);
      else q.then(undefined, onError);
      return q;
    }
  }
  if (isThenable(r)) {
    return Promise.resolve(r).then(transform, e => {
      onError(e);
      throw e;
    });
  }
  return transform(r);
}

export function elapsedSeconds(t0) {
  return (performance.now() - t0) / 1000;
}
