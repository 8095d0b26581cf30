// DOM and formatting helpers. Every piece of span data reaches the page as a
// text node or an attribute value set through the DOM: never as HTML.

// h('div', {class: 'x', onclick: f}, 'text', child, [more]) → an element.
export function h(tag, attrs, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function fmtDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '–';
  if (ms === 0) return '0';
  if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)}ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)}s`;
  const m = Math.floor(ms / 60000);
  return `${m}m${Math.round((ms % 60000) / 1000)}s`;
}

export function fmtCost(usd) {
  if (usd === undefined || usd === null) return '–';
  if (usd === 0) return '$0';
  if (usd < 0.0001) return `$${usd.toFixed(8).replace(/0+$/, '')}`;
  if (usd < 1) return `$${usd.toFixed(usd < 0.01 ? 5 : 4)}`;
  return `$${usd.toFixed(2)}`;
}

export function fmtTokens(n) {
  if (!n) return '0';
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const pad = (x, n = 2) => String(x).padStart(n, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// Milliseconds since the epoch of an RFC 3339 time with up to 9 fraction
// digits (Date keeps 3; the rest are added back here).
export function timeMs(iso) {
  if (!iso) return NaN;
  const m = /\.(\d+)/.exec(iso);
  const base = Date.parse(iso);
  if (!m || m[1].length <= 3) return base;
  return base + Number(`0.${m[1].slice(3)}`);
}

export function badge(type) {
  const t = type || 'span';
  return h('span', {class: `badge t-${t.replace(/[^a-z]/g, '')}`}, t);
}

export function kv(rows) {
  return h('dl', {class: 'kv'}, rows.filter(r => r && r[1] !== undefined && r[1] !== null && r[1] !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function section(title, ...body) {
  return h('section', {class: 'card'}, h('h3', {}, title), ...body);
}

export function message(text, cls = 'note') {
  return h('p', {class: cls}, text);
}
