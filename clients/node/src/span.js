// span.js — the Span object and its wire form.
//
// Contract: a Span holds one canonical span (docs/span.md) in snake_case, as
// it will be sent. log() merges metadata/metrics/scores/attributes, appends
// tags and replaces the other fields; it accepts camelCase (modelParameters,
// sessionId, userId) and the wire names. end() is idempotent: the first call
// stamps end_time and hands the span to the client's sender (serialised
// there, never throwing); later calls do nothing. Times are Unix seconds with
// a fraction; startTime/endTime options accept a Date, Unix seconds, Unix
// milliseconds (a number ≥ 1e11, like Date.now()) or an RFC 3339 string.
import {newSpanId, newTraceId} from './ids.js';
import {formatTraceparent} from './traceparent.js';
import {getClient} from './client.js';

const origin = performance.timeOrigin;

/** Now, in Unix seconds with a fraction (sub-millisecond). */
export function nowSeconds() {
  return (origin + performance.now()) / 1000;
}

export function toSeconds(v) {
  if (v instanceof Date) return v.getTime() / 1000;
  if (typeof v === 'number') return v >= 1e11 ? v / 1000 : v;
  if (typeof v === 'bigint') return Number(v) / 1e9; // hrtime-style nanoseconds
  return v; // RFC 3339 string: the daemon parses it
}

// The error's class name: SDK errors often keep name "Error" but have a
// class of their own (BadRequestError, RateLimitError, ...).
export function errorType(e) {
  const ctor = e.constructor && e.constructor.name;
  if (e.name && e.name !== 'Error') return e.name;
  return ctor || e.name || 'Error';
}

export function errorValue(e) {
  if (e instanceof Error) {
    const o = {type: errorType(e), message: String(e.message)};
    if (typeof e.stack === 'string') o.stack = e.stack;
    if (e.status !== undefined) o.status = e.status;
    if (e.code !== undefined) o.code = e.code;
    return o;
  }
  if (e !== null && typeof e === 'object') return e;
  return {type: typeof e, message: String(e)};
}

// Fields set by log()/options, camelCase and wire names → how to apply.
const REPLACE = {
  input: 'input', output: 'output', expected: 'expected', usage: 'usage', model: 'model',
  provider: 'provider', modelParameters: 'model_parameters', model_parameters: 'model_parameters',
  status: 'status', cost: 'cost', type: 'type', name: 'name', service: 'service',
  environment: 'environment', release: 'release',
};
const MERGE = {metadata: 'metadata', metrics: 'metrics', scores: 'scores', attributes: 'attributes'};
// Option keys that are not span fields.
const IGNORE = new Set(['parent', 'captureInput', 'captureOutput', 'startTime', 'endTime']);

export function applyFields(w, fields) {
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined) continue;
    const r = REPLACE[k];
    if (r !== undefined) {
      w[r] = v;
      continue;
    }
    const m = MERGE[k];
    if (m !== undefined) {
      if (v !== null && typeof v === 'object') w[m] = w[m] === undefined ? {...v} : Object.assign(w[m], v);
      continue;
    }
    switch (k) {
      case 'tags':
        if (Array.isArray(v)) w.tags = w.tags === undefined ? v.slice() : w.tags.concat(v);
        else if (typeof v === 'string') w.tags = w.tags === undefined ? [v] : w.tags.concat([v]);
        break;
      case 'error':
        if (v !== null) {
          w.error = errorValue(v);
          w.status = 'error';
        }
        break;
      case 'sessionId':
      case 'session_id':
        w.session_id = String(v);
        break;
      case 'userId':
      case 'user_id':
        w.user_id = String(v);
        break;
      case 'startTime':
      case 'start_time':
        w.start_time = toSeconds(v);
        break;
      case 'endTime':
      case 'end_time':
        w.end_time = toSeconds(v);
        break;
      default:
        if (IGNORE.has(k)) break;
        // Anything else is an attribute (the daemon keeps unknown top-level
        // fields there too).
        if (w.attributes === undefined) w.attributes = {};
        w.attributes[k] = v;
    }
  }
}

export class Span {
  /**
   * @param {string} name
   * @param {object} parent {traceId, spanId, sessionId?, userId?} or null
   * @param {object} opts   span fields (camelCase or wire names)
   * @param {object} client the client whose service/environment/release it
   *                        carries (it is sent by the client current at end())
   */
  constructor(name, parent, opts, client) {
    this._ended = false;
    // Keys whose value is unknown are left out rather than set to
    // undefined: JSON.stringify is faster without them.
    const w = {
      name: typeof name === 'string' && name !== '' ? name : 'anonymous',
      type: 'span',
      trace_id: parent !== null ? parent.traceId : newTraceId(),
      span_id: newSpanId(),
      parent_span_id: parent !== null ? parent.spanId : null,
      start_time: 0,
    };
    if (client.service !== undefined) w.service = client.service;
    if (client.environment !== undefined) w.environment = client.environment;
    if (client.release !== undefined) w.release = client.release;
    if (parent !== null) {
      if (parent.sessionId !== undefined) w.session_id = parent.sessionId;
      if (parent.userId !== undefined) w.user_id = parent.userId;
    }
    this._w = w;
    if (opts !== undefined && opts !== null) applyFields(w, opts);
    if (w.start_time === 0) w.start_time = nowSeconds();
  }

  get spanId() {
    return this._w.span_id;
  }
  get traceId() {
    return this._w.trace_id;
  }
  get parentSpanId() {
    return this._w.parent_span_id;
  }
  get sessionId() {
    return this._w.session_id;
  }
  get userId() {
    return this._w.user_id;
  }
  get name() {
    return this._w.name;
  }
  get ended() {
    return this._ended;
  }
  get isRecording() {
    return !this._ended;
  }

  /** Adds fields: metadata/metrics/scores merge, tags append, others replace. */
  log(fields) {
    if (fields !== undefined && fields !== null) applyFields(this._w, fields);
    return this;
  }

  /** Merges into the span's attributes. */
  setAttributes(attrs) {
    if (attrs !== null && typeof attrs === 'object') {
      const w = this._w;
      w.attributes = w.attributes === undefined ? {...attrs} : Object.assign(w.attributes, attrs);
    }
    return this;
  }

  /** Records an error (Error, string or object) and sets status error. */
  recordError(err) {
    this._w.error = errorValue(err);
    this._w.status = 'error';
    return this;
  }

  /** Ends the span and sends it (first call only). */
  end(opts) {
    if (this._ended) return;
    this._ended = true;
    const w = this._w;
    if (opts !== undefined && opts !== null && opts.endTime !== undefined) w.end_time = toSeconds(opts.endTime);
    else if (w.end_time === undefined) w.end_time = nowSeconds();
    getClient().emit(w);
  }

  /** "00-<trace>-<span>-01" for outgoing requests. */
  traceparent() {
    return formatTraceparent(this._w.trace_id, this._w.span_id);
  }

  /** The wire object (a copy), for tests and debugging. */
  toJSON() {
    return {...this._w};
  }
}

/** What currentSpan() returns outside any span: every method does nothing. */
export class NoopSpan {
  get spanId() {
    return '';
  }
  get traceId() {
    return '';
  }
  get parentSpanId() {
    return null;
  }
  get sessionId() {
    return undefined;
  }
  get userId() {
    return undefined;
  }
  get name() {
    return '';
  }
  get ended() {
    return true;
  }
  get isRecording() {
    return false;
  }
  log() {
    return this;
  }
  setAttributes() {
    return this;
  }
  recordError() {
    return this;
  }
  end() {}
  traceparent() {
    return null;
  }
  toJSON() {
    return {};
  }
}

export const NOOP_SPAN = new NoopSpan();
