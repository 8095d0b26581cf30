// The query API of docs/api.md: the only thing the page talks to.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function getJSON(path, params) {
  const res = await fetch(path + query(params), {headers: {Accept: 'application/json'}});
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const reason = body && typeof body.error === 'string' ? body.error : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, reason);
  }
  return body;
}

export const listTraces = params => getJSON('/api/traces', params);
export const getTrace = id => getJSON(`/api/traces/${encodeURIComponent(id)}`);
export const getSession = id => getJSON(`/api/sessions/${encodeURIComponent(id)}`);
export const getStats = params => getJSON('/api/stats', params);

// Follows /api/tail (Server-Sent Events); calls onEvent(kind, data) for each
// `trace` / `span` event and onState('live' | 'reconnecting'). Returns a stop function.
export function tail(kind, onEvent, onState = () => {}) {
  if (typeof EventSource === 'undefined') return () => {};
  const es = new EventSource(`/api/tail${query({kind})}`);
  const handler = name => ev => {
    try {
      onEvent(name, JSON.parse(ev.data));
    } catch {
      /* a malformed event is skipped */
    }
  };
  es.addEventListener('trace', handler('trace'));
  es.addEventListener('span', handler('span'));
  es.addEventListener('open', () => onState('live'));
  es.addEventListener('error', () => onState(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));
  return () => es.close();
}
