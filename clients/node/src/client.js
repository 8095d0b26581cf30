// client.js — the process-wide client: configuration, sender, counters.
//
// Contract: init(options) (re)configures and returns the client; getClient()
// returns it, creating a default one on first use (service from
// $SPANVAULT_SERVICE or $OTEL_SERVICE_NAME). client.emit(wireSpan) serialises
// the span and enqueues the line; it never throws. On 'beforeExit' the client
// flushes once (bounded by flushOnExitMs) if spans are unanswered;
// process.exit() cannot be waited for.
import {Sender} from './sender.js';
import {resolveSocket} from './resolve.js';
import {serializeSpan} from './serialize.js';
import {setOtelEnabled} from './context.js';

const MiB = 1024 * 1024;

export const DEFAULTS = {
  maxQueueSpans: 20000,
  maxQueueBytes: 32 * MiB,
  batchSize: 512,
  flushIntervalMs: 50,
  captureInput: true,
  captureOutput: true,
  otel: true,
  maxSpanBytes: MiB - 4096,
  flushOnExitMs: 2000,
};

class Client {
  constructor(options = {}) {
    const o = {...DEFAULTS};
    for (const k of Object.keys(options)) if (options[k] !== undefined) o[k] = options[k];
    this.options = o;
    const env = process.env;
    this.service = o.service !== undefined ? o.service : (env.SPANVAULT_SERVICE || env.OTEL_SERVICE_NAME || undefined);
    this.environment = o.environment !== undefined ? o.environment : (env.SPANVAULT_ENVIRONMENT || undefined);
    this.release = o.release !== undefined ? o.release : (env.SPANVAULT_RELEASE || undefined);
    this.captureInput = o.captureInput !== false;
    this.captureOutput = o.captureOutput !== false;
    this.otel = o.otel !== false;
    setOtelEnabled(this.otel);
    this.maxSpanBytes = o.maxSpanBytes;
    this.flushOnExitMs = o.flushOnExitMs;
    // An explicit socket is used as given; otherwise it is resolved again on
    // every connection attempt (the daemon may start later).
    const socketPath = o.socket ? o.socket : () => resolveSocket();
    this.sender = new Sender({
      socketPath,
      maxQueueSpans: o.maxQueueSpans,
      maxQueueBytes: o.maxQueueBytes,
      batchSize: o.batchSize,
      flushIntervalMs: o.flushIntervalMs,
    });
    this.enqueued = 0;
    this.droppedSerialize = 0;
    this.truncated = 0;
    this.lastError = null;
    this.hook = null; // test hook: called with each line
    this._exitFlushedAt = -1;
    this._onBeforeExit = () => this._beforeExit();
    process.on('beforeExit', this._onBeforeExit);
  }

  emit(w) {
    try {
      const r = serializeSpan(w, this.maxSpanBytes);
      if (r.line === null) {
        this.droppedSerialize++;
        this.lastError = `span "${w.name}" not sent: ${r.reason}`;
        return;
      }
      if (r.truncated) this.truncated++;
      if (this.hook !== null) this.hook(r.line);
      if (this.sender.enqueue(r.line)) this.enqueued++;
    } catch (e) {
      this.droppedSerialize++;
      this.lastError = `emit: ${e && e.message}`;
    }
  }

  flush(timeoutMs = 5000) {
    try {
      return this.sender.flush(timeoutMs);
    } catch {
      return Promise.resolve(false);
    }
  }

  stats() {
    const s = this.sender;
    return {
      enqueued: this.enqueued,
      sent: s.counters.sent,
      confirmed: s.counters.confirmed,
      rejected: s.counters.rejected,
      droppedQueueFull: s.counters.droppedQueueFull,
      droppedSerialize: this.droppedSerialize,
      truncated: this.truncated,
      reconnects: s.counters.reconnects,
      connected: s.connected,
      queueSpans: s.queueSpans,
      queueBytes: s.queueBytes,
      lastError: s.lastError || this.lastError,
    };
  }

  _beforeExit() {
    const s = this.sender;
    if (s.closed || s.pendingSinceAnswered() === 0) return;
    // Flush once per batch of new spans, so that an unreachable daemon
    // does not keep the process alive forever.
    if (this._exitFlushedAt === s.enqueuedTotal) return;
    this._exitFlushedAt = s.enqueuedTotal;
    s.flush(this.flushOnExitMs);
  }

  async shutdown(timeoutMs = 5000) {
    const ok = await this.flush(timeoutMs);
    this.close();
    return ok;
  }

  // Replaced by a new init(): deliver what is queued (bounded, without
  // keeping the process alive), then close.
  retire() {
    process.removeListener('beforeExit', this._onBeforeExit);
    this.sender.flush(this.flushOnExitMs, false).then(() => this.close(), () => this.close());
  }

  close() {
    process.removeListener('beforeExit', this._onBeforeExit);
    this.sender.close();
  }
}

let client = null;

export function init(options = {}) {
  if (client !== null) client.retire();
  client = new Client(options);
  return client;
}

export function getClient() {
  if (client === null) client = new Client({});
  return client;
}

/** For tests: the current client or null, without creating one. */
export function peekClient() {
  return client;
}
