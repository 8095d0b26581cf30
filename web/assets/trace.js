// One trace: the span tree and its timeline waterfall side by side (one row
// per visible span, so they stay aligned), virtualised (only the rows in view
// are in the DOM), and the selected span's detail.
import {h, clear, badge, fmtCost, fmtDuration, fmtTime, fmtTokens, timeMs, kv, message} from './dom.js';
import {getTrace, tail} from './api.js';
import {renderDetail} from './detail.js';

const ROW = 26;       // px per row (style.css .row height)
const OVERSCAN = 12;  // rows rendered beyond the visible ones

function isEvent(s) {
  return s.type === 'event' || !(s.duration_ms > 0);
}

// The trace's tree as a model: each span under its first parent (a DAG's
// other parents are `extra_parents`, shown as markers), in answer order.
export function buildModel(answer) {
  const nodes = new Map();
  for (const e of answer.spans || []) {
    const s = e.span || {};
    nodes.set(s.span_id, {id: s.span_id, span: s, depth: e.depth || 0, rollup: e.rollup || {}, extra: e.extra_parents || [],
      kids: [], start: timeMs(s.start_time), end: timeMs(s.end_time)});
  }
  const parentOf = n => {
    const p = n.span.parent_span_id || (n.span.span_parents || [])[0];
    return p && nodes.has(p) && p !== n.id ? p : null;
  };
  const roots = [];
  for (const n of nodes.values()) {
    const p = parentOf(n);
    if (p) nodes.get(p).kids.push(n);
    else roots.push(n);
  }
  let min = Infinity;
  let max = -Infinity;
  for (const n of nodes.values()) {
    if (!Number.isNaN(n.start)) min = Math.min(min, n.start);
    const end = Number.isNaN(n.end) ? n.start + (n.span.duration_ms || 0) : n.end;
    if (!Number.isNaN(end)) max = Math.max(max, end);
    if (Number.isNaN(n.end)) n.end = end;
  }
  if (!Number.isFinite(min)) min = 0;
  if (!(max > min)) max = min + 1;
  return {nodes, roots, min, max};
}

// The visible rows: a depth-first walk that skips collapsed subtrees (and
// never visits a span twice, whatever the parents say).
function flatten(model, collapsed) {
  const rows = [];
  const seen = new Set();
  const walk = (n, depth) => {
    if (seen.has(n.id)) return;
    seen.add(n.id);
    rows.push({n, depth});
    if (!collapsed.has(n.id)) for (const k of n.kids) walk(k, depth + 1);
  };
  for (const r of model.roots) walk(r, 0);
  return rows;
}

function summaryBar(t) {
  return h('div', {class: 'trace-head'},
    h('h1', {}, t.name || '(no root span yet)'),
    kv([
      ['Trace', h('code', {}, t.trace_id)],
      ['Start', fmtTime(t.start_time)],
      ['Duration', fmtDuration(t.duration_ms)],
      ['Spans', String(t.spans)],
      ['Errors', t.errors ? h('span', {class: 'status s-error'}, String(t.errors)) : '0'],
      ['Tokens', `${fmtTokens(t.total_tokens)} (${fmtTokens(t.input_tokens)} in / ${fmtTokens(t.output_tokens)} out)`],
      ['Cost', fmtCost(t.cost)],
      ['Service', t.service],
      ['Environment', t.environment],
      ['Session', t.session_id ? h('a', {href: `#/session/${encodeURIComponent(t.session_id)}`}, t.session_id) : null],
      ['User', t.user_id],
      ['Models', (t.models || []).join(', ')],
    ]));
}

export function renderTrace({root, id, params, navigate}) {
  let alive = true;
  let shown = -1;
  const load = spanId => getTrace(id).then(answer => {
    if (!alive) return;
    clear(root);
    shown = (answer.spans || []).length;
    mount(root, answer, spanId, navigate, id);
  }).catch(e => {
    if (!alive) return;
    clear(root);
    root.append(h('p', {class: 'note error'}, `Could not load trace ${id}: ${e.message}`), h('a', {href: '#/traces'}, '← back to traces'));
  });
  root.append(message('Loading trace…'));
  load(params.get('span'));
  // A trace still growing: offer its new spans (no jump under the reader's eyes).
  const stop = tail('traces', (kind, t) => {
    if (kind !== 'trace' || !t || t.trace_id !== id || shown < 0 || t.spans === shown || root.querySelector('.grown')) return;
    root.prepend(h('button', {type: 'button', class: 'grown', onclick: () => {
      const sel = new URLSearchParams(location.hash.split('?')[1] || '').get('span');
      load(sel);
    }}, `This trace has ${t.spans - shown} new span${t.spans - shown === 1 ? '' : 's'}: show them`));
  });
  return () => {
    alive = false;
    stop();
  };
}

function axisTicks(model) {
  const span = model.max - model.min;
  const ticks = h('div', {class: 'axis', 'aria-hidden': 'true'});
  for (let i = 0; i <= 4; ++i) {
    ticks.append(h('span', {style: {left: `${i * 25}%`}}, fmtDuration(span * i / 4)));
  }
  return ticks;
}

function mount(root, answer, selectedId, navigate, traceId) {
  const model = buildModel(answer);
  const collapsed = new Set();
  let rows = flatten(model, collapsed);
  let selected = selectedId && model.nodes.has(selectedId) ? selectedId : (model.roots[0] || {}).id;
  const total = model.max - model.min;

  const spacer = h('div', {class: 'spacer'});
  const viewport = h('div', {class: 'rows', role: 'tree', tabindex: '0', 'aria-label': 'spans: tree and timeline',
    'aria-activedescendant': ''}, spacer);
  const detail = h('aside', {class: 'detail', 'aria-label': 'span detail'});
  const counter = h('span', {class: 'note'});

  root.append(h('a', {class: 'back', href: '#/traces'}, '← traces'), summaryBar(answer.trace || {}),
    h('div', {class: 'trace-body'},
      h('div', {class: 'waterfall'},
        h('div', {class: 'cols'}, h('div', {class: 'col-tree'}, 'Span ', counter,
          h('button', {type: 'button', class: 'ghost small', onclick: () => setAll(true)}, 'collapse all'),
          h('button', {type: 'button', class: 'ghost small', onclick: () => setAll(false)}, 'expand all')),
        h('div', {class: 'col-time'}, axisTicks(model))),
        viewport),
      detail));

  function setAll(close) {
    collapsed.clear();
    if (close) for (const n of model.nodes.values()) if (n.kids.length && !model.roots.includes(n)) collapsed.add(n.id);
    refresh();
  }

  function toggle(nid) {
    if (collapsed.has(nid)) collapsed.delete(nid);
    else collapsed.add(nid);
    refresh();
  }

  function select(nid, scroll = true) {
    if (!model.nodes.has(nid)) return;
    // Open the ancestors so the row is visible.
    let p = model.nodes.get(nid);
    while (p) {
      const pid = p.span.parent_span_id || (p.span.span_parents || [])[0];
      p = pid && model.nodes.get(pid);
      if (p) collapsed.delete(p.id);
    }
    selected = nid;
    rows = flatten(model, collapsed);
    if (scroll) {
      const i = rows.findIndex(r => r.n.id === nid);
      const top = i * ROW;
      if (top < viewport.scrollTop || top + ROW > viewport.scrollTop + viewport.clientHeight) {
        viewport.scrollTop = Math.max(0, top - viewport.clientHeight / 2);
      }
    }
    history.replaceState(null, '', `#/trace/${encodeURIComponent(traceId)}?span=${encodeURIComponent(nid)}`);
    draw();
    clear(detail);
    detail.append(renderDetail(model.nodes.get(nid), model, select));
  }

  function rowEl({n, depth}, i) {
    const s = n.span;
    const err = s.status === 'error';
    const left = total > 0 ? ((n.start - model.min) / total) * 100 : 0;
    const width = total > 0 ? Math.max(((n.end - n.start) / total) * 100, 0) : 0;
    const ev = isEvent(s);
    const hasKids = n.kids.length > 0;
    const tokens = s.usage && s.usage.total_tokens;
    const cost = s.cost && typeof s.cost.total === 'number' ? s.cost.total : null;
    const extra = n.extra.map(x => {
      const p = model.nodes.get(x);
      return h('button', {type: 'button', class: 'dag', title: `also a child of ${p ? p.span.name : x}`, tabindex: '-1',
        onclick: e => { e.stopPropagation(); if (p) select(x); }}, `↖ also child of ${p ? p.span.name : x}`);
    });
    return h('div', {class: `row${err ? ' err' : ''}${n.id === selected ? ' sel' : ''}`, role: 'treeitem', id: `row-${i}`,
      'aria-level': depth + 1, 'aria-expanded': hasKids ? String(!collapsed.has(n.id)) : null, 'aria-selected': String(n.id === selected),
      dataset: {span: n.id, depth: String(depth)}, style: {top: `${i * ROW}px`}, onclick: () => select(n.id, false)},
      h('div', {class: 'cell-tree', style: {paddingLeft: `${6 + depth * 14}px`}},
        hasKids
          ? h('button', {type: 'button', class: 'tw', tabindex: '-1', 'aria-label': collapsed.has(n.id) ? 'expand' : 'collapse',
            onclick: e => { e.stopPropagation(); toggle(n.id); }}, collapsed.has(n.id) ? '▸' : '▾')
          : h('span', {class: 'tw'}, ''),
        badge(s.type),
        h('span', {class: 'name'}, s.name || '(unnamed)'),
        extra,
        err ? h('span', {class: 'errmark', title: 'error'}, '✕ error') : null,
        h('span', {class: 'meta'},
          h('span', {class: 'dur'}, ev && !(s.duration_ms > 0) ? 'event' : fmtDuration(s.duration_ms)),
          tokens ? h('span', {class: 'tok'}, `${fmtTokens(tokens)} tok`) : null,
          cost !== null ? h('span', {class: 'cost'}, fmtCost(cost)) : null)),
      h('div', {class: 'cell-time'},
        ev
          ? h('span', {class: 'marker', style: {left: `${left}%`}, title: `${s.name} at +${fmtDuration(n.start - model.min)}`})
          : h('span', {class: `bar t-${(s.type || 'span').replace(/[^a-z]/g, '')}`, style: {left: `${left}%`, width: `max(2px, ${width}%)`},
            title: `${s.name}: +${fmtDuration(n.start - model.min)}, ${fmtDuration(s.duration_ms)}`}),
        n.extra.length ? h('span', {class: 'dag-dot', style: {left: `${left}%`}, title: 'has more than one parent'}) : null));
  }

  function draw() {
    spacer.style.height = `${rows.length * ROW}px`;
    const first = Math.max(0, Math.floor(viewport.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((viewport.scrollTop + (viewport.clientHeight || 600)) / ROW) + OVERSCAN);
    for (const old of viewport.querySelectorAll('.row')) old.remove();
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; ++i) frag.append(rowEl(rows[i], i));
    viewport.append(frag);
    const si = rows.findIndex(r => r.n.id === selected);
    viewport.setAttribute('aria-activedescendant', si >= first && si < last ? `row-${si}` : '');
    counter.textContent = `(${model.nodes.size} span${model.nodes.size === 1 ? '' : 's'}, ${rows.length} shown)`;
  }

  function refresh() {
    rows = flatten(model, collapsed);
    draw();
  }

  let pending = false;
  viewport.addEventListener('scroll', () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  });
  viewport.addEventListener('keydown', e => {
    const i = rows.findIndex(r => r.n.id === selected);
    const cur = rows[i] && rows[i].n;
    let next = null;
    if (e.key === 'ArrowDown') next = rows[Math.min(rows.length - 1, i + 1)];
    else if (e.key === 'ArrowUp') next = rows[Math.max(0, i - 1)];
    else if (e.key === 'Home') next = rows[0];
    else if (e.key === 'End') next = rows[rows.length - 1];
    else if (e.key === 'PageDown') next = rows[Math.min(rows.length - 1, i + Math.floor(viewport.clientHeight / ROW))];
    else if (e.key === 'PageUp') next = rows[Math.max(0, i - Math.floor(viewport.clientHeight / ROW))];
    else if (e.key === 'ArrowRight' && cur && cur.kids.length) {
      if (collapsed.has(cur.id)) toggle(cur.id);
      else next = rows[i + 1];
    } else if (e.key === 'ArrowLeft' && cur) {
      if (cur.kids.length && !collapsed.has(cur.id)) toggle(cur.id);
      else {
        const pid = cur.span.parent_span_id || (cur.span.span_parents || [])[0];
        if (pid && model.nodes.has(pid)) select(pid);
      }
    } else if (e.key === 'Enter' || e.key === ' ') {
      if (cur && cur.kids.length) toggle(cur.id);
    } else return;
    e.preventDefault();
    if (next) select(next.n.id);
  });
  addEventListener('resize', draw, {passive: true});

  if (selected) select(selected);
  else draw();
  viewport.focus({preventScroll: true});
}
