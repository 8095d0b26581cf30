// traceparent.js — W3C Trace Context `traceparent` headers.
//
// Contract: formatTraceparent(traceId, spanId) → "00-<32 hex>-<16 hex>-01".
// parseTraceparent(value) → {traceId, spanId, sampled, remote: true} or null.
// Parsing is strict: version "00" only, exactly 55 chars, lowercase hex of the
// right lengths, trace id and span id not all zeros, flags 2 hex digits.
// extractTraceparent accepts a string, a plain headers object (any key case,
// array values take the first), a Headers-like object with get(), or null.

const RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export function formatTraceparent(traceId, spanId, sampled = true) {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

export function parseTraceparent(value) {
  if (typeof value !== 'string') return null;
  const m = RE.exec(value.trim());
  if (m === null) return null;
  if (m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return null;
  return {traceId: m[1], spanId: m[2], sampled: (parseInt(m[3], 16) & 1) === 1, remote: true};
}

function headerValue(headers, name) {
  if (headers == null) return undefined;
  if (typeof headers.get === 'function' && typeof headers.has === 'function') {
    const v = headers.get(name);
    return v == null ? undefined : v;
  }
  if (typeof headers !== 'object') return undefined;
  let v = headers[name];
  if (v === undefined) {
    for (const k of Object.keys(headers)) {
      if (k.toLowerCase() === name) {
        v = headers[k];
        break;
      }
    }
  }
  if (Array.isArray(v)) v = v[0];
  return v;
}

export function extractFrom(headersOrString) {
  if (typeof headersOrString === 'string') return parseTraceparent(headersOrString);
  return parseTraceparent(headerValue(headersOrString, 'traceparent'));
}
