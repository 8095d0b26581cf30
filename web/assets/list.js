// The trace list: filters (kept in the URL), cursor pages ("Load more"), and
// live updates from /api/tail?kind=traces.
import {h, fmtCost, fmtDuration, fmtTime, fmtTokens} from './dom.js';
import {listTraces, tail} from './api.js';

const FILTERS = [
  // [parameter, label, kind, extra]
  ['from', 'From', 'time'],
  ['to', 'To', 'time'],
  ['q', 'Name contains', 'text'],
  ['service', 'Service', 'text'],
  ['session', 'Session', 'text'],
  ['user', 'User', 'text'],
  ['environment', 'Environment', 'text'],
  ['model', 'Model', 'text'],
  ['type', 'Span type', 'select', [['', 'any'], ...['generation', 'retrieval', 'tool', 'agent', 'chain', 'embedding', 'guardrail', 'evaluator', 'event', 'span'].map(t => [t, t])]],
  ['tag', 'Tag', 'text'],
  ['status', 'Status', 'select', [['', 'any'], ['ok', 'ok'], ['error', 'error']]],
  ['min_cost', 'Min cost $', 'number'],
  ['min_duration_ms', 'Min duration ms', 'number'],
];
const PAGE = 50;

function filterForm(params, onApply) {
  const fields = FILTERS.map(([name, label, kind, options]) => {
    const id = `f-${name}`;
    const input = kind === 'select'
      ? h('select', {id, name}, options.map(([v, t]) => h('option', {value: v, selected: params.get(name) === v || (!params.get(name) && v === '')}, t)))
      : kind === 'time'
        ? h('input', {id, name, type: 'search', list: 'sv-times', placeholder: 'e.g. 1h, 7d, RFC 3339', value: params.get(name) || '', autocomplete: 'off'})
        : h('input', {id, name, type: kind === 'number' ? 'number' : 'search', step: kind === 'number' ? 'any' : null, min: kind === 'number' ? '0' : null,
        value: params.get(name) || '', autocomplete: 'off'});
    return h('label', {for: id}, h('span', {}, label), input);
  });
  const times = h('datalist', {id: 'sv-times'}, ['15m', '1h', '6h', '24h', '7d', '30d'].map(v => h('option', {value: v})));
  const form = h('form', {class: 'filters', role: 'search'}, fields, times,
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Apply'), h('button', {type: 'reset', class: 'ghost'}, 'Clear')));
  form.addEventListener('submit', e => {
    e.preventDefault();
    const p = new URLSearchParams();
    for (const [name] of FILTERS) {
      const v = form.elements[name].value.trim();
      if (v) p.set(name, v);
    }
    onApply(p);
  });
  form.addEventListener('reset', e => {
    e.preventDefault();
    onApply(new URLSearchParams());
  });
  return form;
}

// Whether a live trace summary passes the filters the page can judge itself.
function matches(t, p) {
  const has = (k, v) => !p.get(k) || v === p.get(k);
  if (!has('service', t.service) || !has('session', t.session_id) || !has('user', t.user_id) || !has('environment', t.environment)) return false;
  if (p.get('model') && !(t.models || []).includes(p.get('model'))) return false;
  if (p.get('type') && !(t.types || []).includes(p.get('type'))) return false;
  if (p.get('tag') && !(t.tags || []).includes(p.get('tag'))) return false;
  if (p.get('to')) return false;  // a bounded range: the server judges on the next load (new traces are after any 'from')
  if (p.get('status') && t.status !== p.get('status')) return false;
  if (p.get('min_cost') && !(t.cost >= Number(p.get('min_cost')))) return false;
  if (p.get('min_duration_ms') && !(t.duration_ms >= Number(p.get('min_duration_ms')))) return false;
  if (p.get('q') && !String(t.name || '').toLowerCase().includes(p.get('q').toLowerCase())) return false;
  return true;
}

function traceRow(t) {
  const link = `#/trace/${encodeURIComponent(t.trace_id)}`;
  return h('tr', {class: t.status === 'error' || t.errors > 0 ? 'err' : null, dataset: {trace: t.trace_id}},
    h('td', {class: 'mono'}, fmtTime(t.start_time)),
    h('td', {}, h('a', {href: link, class: 'trace-link'}, t.name || '(no root yet)')),
    h('td', {}, t.service || ''),
    h('td', {}, t.session_id ? h('a', {href: `#/session/${encodeURIComponent(t.session_id)}`}, t.session_id) : ''),
    h('td', {class: 'num'}, fmtDuration(t.duration_ms)),
    h('td', {class: 'num'}, String(t.spans ?? '')),
    h('td', {class: 'num'}, fmtTokens(t.total_tokens)),
    h('td', {class: 'num'}, fmtCost(t.cost)),
    h('td', {}, h('span', {class: `status s-${t.status === 'error' ? 'error' : 'ok'}`}, t.status === 'error' ? `error (${t.errors})` : 'ok')),
    h('td', {class: 'models'}, (t.models || []).join(', ')));
}

export function renderList({root, params, navigate}) {
  const tbody = h('tbody');
  const more = h('button', {type: 'button', class: 'more', hidden: true}, 'Load more');
  const status = h('p', {class: 'note', role: 'status'});
  const live = h('span', {class: 'live', title: 'updates from /api/tail'}, '○ connecting');
  const rows = new Map();
  let cursor = null;
  let stopped = false;

  root.append(
    h('div', {class: 'page-head'}, h('h1', {}, 'Traces'), live),
    filterForm(params, p => navigate(`#/traces${p.toString() ? `?${p}` : ''}`)),
    h('div', {class: 'table-wrap'}, h('table', {class: 'traces'},
      h('thead', {}, h('tr', {}, ['Start', 'Name', 'Service', 'Session', 'Duration', 'Spans', 'Tokens', 'Cost', 'Status', 'Models']
        .map(c => h('th', {scope: 'col'}, c)))),
      tbody)),
    status, more);

  const base = Object.fromEntries(params.entries());
  async function load() {
    more.disabled = true;
    status.textContent = 'Loading…';
    try {
      const page = await listTraces({...base, limit: base.limit || PAGE, cursor});
      if (stopped) return;
      for (const t of page.traces || []) {
        if (rows.has(t.trace_id)) continue;
        const tr = traceRow(t);
        rows.set(t.trace_id, tr);
        tbody.append(tr);
      }
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      status.textContent = rows.size ? `${rows.size} trace${rows.size === 1 ? '' : 's'}${cursor ? ' (more below)' : ''}` : 'No traces match.';
    } catch (e) {
      status.textContent = `Could not load traces: ${e.message}`;
      status.className = 'note error';
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', load);
  load();

  const stop = tail('traces', (kind, t) => {
    if (kind !== 'trace' || !t || !t.trace_id || !matches(t, params)) return;
    const tr = traceRow(t);
    tr.classList.add('fresh');
    const old = rows.get(t.trace_id);
    if (old) old.replaceWith(tr);
    else tbody.prepend(tr);
    rows.set(t.trace_id, tr);
    status.textContent = `${rows.size} trace${rows.size === 1 ? '' : 's'}${cursor ? ' (more below)' : ''}`;
  }, state => {
    live.textContent = state === 'live' ? '● live' : '○ reconnecting';
    live.classList.toggle('on', state === 'live');
  });
  return () => {
    stopped = true;
    stop();
  };
}

