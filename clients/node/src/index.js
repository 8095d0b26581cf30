// spanvault — Node.js client for the spanvault tracing sidecar.
//
// Public API (see index.d.ts and README.md): init, startSpan, withSpan,
// traced, currentSpan, injectTraceparent, extractTraceparent, flush, stats,
// shutdown, resolveSocket, wrapOpenAI, wrapAnthropic. Every call works
// before init() (a default client is created on first use), and nothing the
// library does on the span path throws into the app: spans that cannot be
// sent are counted in stats() and dropped.
import {init as initClient, getClient} from './client.js';

export {startSpan, withSpan, traced, currentSpan, injectTraceparent, extractTraceparent} from './tracing.js';
export {Span, NoopSpan} from './span.js';
export {resolveSocket} from './resolve.js';
export {newTraceId, newSpanId} from './ids.js';
export {wrapOpenAI} from './wrappers/openai.js';
export {wrapAnthropic} from './wrappers/anthropic.js';

/** Configures the process-wide client (replacing any previous one). */
export function init(options = {}) {
  initClient(options);
}

/** Resolves true once the daemon confirmed every span ended before the call. */
export function flush({timeoutMs = 5000} = {}) {
  return getClient().flush(timeoutMs);
}

export function stats() {
  return getClient().stats();
}

/** Flushes (bounded) and closes the connection; later spans are dropped. */
export function shutdown({timeoutMs = 5000} = {}) {
  return getClient().shutdown(timeoutMs).catch(() => false);
}

/** @internal For tests: called with each serialised line (or null to stop). */
export function _setLineHook(fn) {
  getClient().hook = fn || null;
}
