// serialize.js — one span object → one NDJSON line, never throwing.
//
// Contract: serializeSpan(obj, maxBytes) returns {line, truncated} or
// {line: null, reason}. The line is JSON without raw newlines. Values JSON
// cannot hold are made safe: BigInt → decimal string, circular reference →
// "[Circular]", function → "[Function name]", symbol → its description,
// Buffer/typed array → "[Buffer N bytes]", Map → object of its entries,
// Set → array, Error → {type, message, stack}, nesting deeper than
// MAX_DEPTH → "[Depth]" (the daemon refuses JSON nested over 64 levels).
// When the line is longer than maxBytes (UTF-8), input/output/expected are
// replaced by "[spanvault: truncated N bytes]" markers and
// attributes["spanvault.truncated"] lists them; if it is still too long the
// span is refused (reason "too large").

const MAX_DEPTH = 48;

// The error's class name: SDK errors often keep name "Error" but have a
// class of their own (BadRequestError, RateLimitError, ...).
function errorType(e) {
  const ctor = e.constructor && e.constructor.name;
  if (e.name && e.name !== 'Error') return e.name;
  return ctor || e.name || 'Error';
}

function errorToObject(e) {
  const o = {type: errorType(e), message: String(e.message)};
  if (typeof e.stack === 'string') o.stack = e.stack;
  if (e.code !== undefined) o.code = e.code;
  if (e.status !== undefined) o.status = e.status;
  return o;
}

// A replacer that keeps a stack of the objects being serialised (ancestors of
// the current value), so only true cycles become "[Circular]" (a shared
// object seen twice is written twice).
function makeReplacer() {
  const stack = [];
  return function replacer(key, value) {
    // `this` is the holder; for Buffers and Dates, toJSON already ran, so
    // look at the raw value.
    const raw = key === '' && stack.length === 0 ? value : this[key];
    if (stack.length > 0) {
      let i = stack.length - 1;
      while (i >= 0 && stack[i] !== this) i--;
      stack.length = i + 1;
    }
    switch (typeof raw) {
      case 'bigint':
        return raw.toString();
      case 'function':
        return `[Function ${raw.name || 'anonymous'}]`;
      case 'symbol':
        return raw.toString();
      case 'object':
        break;
      default:
        return value;
    }
    if (raw === null) return null;
    if (Buffer.isBuffer(raw) || ArrayBuffer.isView(raw)) return `[Buffer ${raw.byteLength} bytes]`;
    if (raw instanceof ArrayBuffer) return `[ArrayBuffer ${raw.byteLength} bytes]`;
    if (typeof value !== 'object' || value === null) return value; // toJSON gave a primitive (Date, ...)
    if (stack.includes(value)) return '[Circular]';
    if (stack.length >= MAX_DEPTH) return '[Depth]';
    let out = value;
    if (raw instanceof Error) out = errorToObject(raw);
    else if (raw instanceof Map) {
      out = {};
      for (const [k, v] of raw) out[typeof k === 'string' ? k : String(k)] = v;
    } else if (raw instanceof Set) out = Array.from(raw);
    else if (raw instanceof WeakMap || raw instanceof WeakSet) return '[' + raw.constructor.name + ']';
    else if (typeof raw.then === 'function') return '[Promise]';
    stack.push(out);
    return out;
  };
}

/** JSON text of any value, never throwing (falls back to a marker string). */
export function safeStringify(value) {
  try {
    const s = JSON.stringify(value, makeReplacer());
    return s === undefined ? 'null' : s;
  } catch (e) {
    return JSON.stringify(`[spanvault: unserializable: ${e && e.message}]`);
  }
}

function utf8Length(s) {
  return Buffer.byteLength(s, 'utf8');
}

function tooLong(line, maxBytes) {
  // UTF-16 length ≤ UTF-8 length ≤ 3 × UTF-16 length: skip the byte count
  // in the common case.
  if (line.length * 3 <= maxBytes) return false;
  if (line.length > maxBytes) return true;
  return utf8Length(line) > maxBytes;
}

const HEAVY = ['input', 'output', 'expected'];

const OBJECT_PROTO = Object.prototype;
const PLAIN_MAX_DEPTH = 32;

// True when JSON.stringify(v) without a replacer writes exactly what the
// replacer would: only plain objects, arrays, Dates and JSON primitives, not
// too deep (cycles end up too deep, and go the slow way).
function isPlain(v, depth) {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (v === null) return true;
  if (depth > PLAIN_MAX_DEPTH) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isPlain(v[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === OBJECT_PROTO || proto === null) {
    if (typeof v.toJSON === 'function') return false;
    for (const k in v) if (!isPlain(v[k], depth + 1)) return false;
    return true;
  }
  return v instanceof Date;
}

export function serializeSpan(obj, maxBytes) {
  let line;
  try {
    line = isPlain(obj, 0) ? JSON.stringify(obj) : JSON.stringify(obj, makeReplacer());
  } catch (e) {
    return {line: null, reason: `serialize: ${e && e.message}`};
  }
  if (!tooLong(line, maxBytes)) return {line, truncated: false};
  // Too large: replace the payload fields by markers.
  const copy = {...obj};
  const cut = [];
  for (const k of HEAVY) {
    if (copy[k] === undefined) continue;
    const n = utf8Length(safeStringify(copy[k]));
    copy[k] = `[spanvault: truncated ${n} bytes]`;
    cut.push(k);
  }
  copy.attributes = {...(copy.attributes || {}), 'spanvault.truncated': cut};
  try {
    line = JSON.stringify(copy, makeReplacer());
  } catch (e) {
    return {line: null, reason: `serialize: ${e && e.message}`};
  }
  if (tooLong(line, maxBytes)) return {line: null, reason: 'too large'};
  return {line, truncated: true};
}
