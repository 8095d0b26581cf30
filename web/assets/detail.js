// The selected span: what it is, its input and output for people, model,
// usage, cost (with its breakdown and price id), scores, metrics, attributes, error.
import {h, badge, fmtCost, fmtDuration, fmtTime, fmtTokens, kv, section} from './dom.js';
import {valueEl, jsonTree} from './chat.js';

const isObj = v => v !== null && typeof v === 'object' && !Array.isArray(v);
const COST_PARTS = ['input', 'output', 'cache_read', 'cache_write', 'reasoning', 'request'];

function numTable(obj, fmt = v => String(v)) {
  return h('table', {class: 'mini'}, h('tbody', {}, Object.entries(obj).map(([k, v]) =>
    h('tr', {}, h('th', {scope: 'row'}, k), h('td', {class: 'num'}, typeof v === 'number' ? fmt(v) : JSON.stringify(v))))));
}

function costEl(c) {
  if (typeof c === 'number') return h('p', {}, fmtCost(c));
  if (!isObj(c)) return null;
  const parts = COST_PARTS.filter(k => typeof c[k] === 'number' && c[k] > 0);
  return h('div', {class: 'cost-box'},
    h('div', {class: 'cost-total'}, fmtCost(c.total), ' ', h('small', {}, c.currency || 'USD')),
    parts.length ? h('table', {class: 'mini'}, h('tbody', {}, parts.map(k =>
      h('tr', {}, h('th', {scope: 'row'}, k.replace('_', ' ')), h('td', {class: 'num'}, fmtCost(c[k])))))) : null,
    kv([['Price', c.price_id ? h('code', {class: 'price-id'}, c.price_id) : null], ['Source', c.source]]));
}

function usageEl(u) {
  if (!isObj(u)) return null;
  const order = ['input_tokens', 'output_tokens', 'total_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens'];
  const known = order.filter(k => typeof u[k] === 'number').map(k => [k.replace('_tokens', '').replace('_', ' '), u[k]]);
  const rest = Object.fromEntries(Object.entries(u).filter(([k]) => !order.includes(k)));
  return h('div', {}, numTable(Object.fromEntries(known), fmtTokens), Object.keys(rest).length ? jsonTree(rest) : null);
}

export function renderDetail(node, model, select) {
  const s = node.span;
  const r = node.rollup || {};
  const parentId = s.parent_span_id || (s.span_parents || [])[0];
  const parent = parentId && model.nodes.get(parentId);
  const link = (id) => {
    const n = model.nodes.get(id);
    return n ? h('button', {type: 'button', class: 'linkish', onclick: () => select(id)}, n.span.name) : h('code', {}, id);
  };
  const out = [];
  out.push(h('div', {class: 'detail-head'},
    h('h2', {}, badge(s.type), ' ', h('span', {class: 'detail-name'}, s.name)),
    s.status === 'error' ? h('span', {class: 'status s-error'}, 'error') : h('span', {class: 'status s-ok'}, 'ok')));
  out.push(kv([
    ['Duration', fmtDuration(s.duration_ms)],
    ['Start', fmtTime(s.start_time)],
    ['Offset', `+${fmtDuration(node.start - model.min)}`],
    ['Span id', h('code', {}, s.span_id)],
    ['Parent', parentId ? link(parentId) : 'none (root)'],
    ['Also child of', node.extra.length ? h('span', {}, node.extra.map(link)) : null],
    ['Subtree', node.kids.length ? `${r.spans} spans, ${r.errors || 0} errors, ${fmtTokens(r.total_tokens)} tokens, ${fmtCost(r.cost)}` : null],
    ['Service', s.service], ['Environment', s.environment], ['Session', s.session_id], ['User', s.user_id],
    ['Release', s.release], ['Tags', Array.isArray(s.tags) && s.tags.length ? s.tags.join(', ') : null],
  ]));
  if (s.error !== undefined && s.error !== null) {
    out.push(h('section', {class: 'card error-card'}, h('h3', {}, 'Error'),
      typeof s.error === 'string' ? h('pre', {class: 'text'}, s.error) : jsonTree(s.error, true)));
  }
  if (s.input !== undefined) out.push(section('Input', valueEl(s.input)));
  if (s.output !== undefined) out.push(section('Output', valueEl(s.output)));
  if (s.expected !== undefined) out.push(section('Expected', valueEl(s.expected)));
  if (s.model || s.provider || s.model_parameters) {
    out.push(section('Model', kv([['Model', s.model], ['Provider', s.provider]]),
      isObj(s.model_parameters) ? numTable(s.model_parameters) : null));
  }
  if (s.usage) out.push(section('Usage', usageEl(s.usage)));
  if (s.cost !== undefined && s.cost !== null) out.push(section('Cost', costEl(s.cost)));
  if (isObj(s.scores) && Object.keys(s.scores).length) out.push(section('Scores', numTable(s.scores, v => v.toFixed(3))));
  if (isObj(s.metrics) && Object.keys(s.metrics).length) out.push(section('Metrics', numTable(s.metrics)));
  if (isObj(s.attributes) && Object.keys(s.attributes).length) out.push(section('Attributes', jsonTree(s.attributes, true)));
  const raw = h('details', {class: 'raw'}, h('summary', {}, 'Raw span JSON'));
  raw.addEventListener('toggle', () => {
    if (raw.open && raw.children.length === 1) raw.append(h('pre', {class: 'text'}, JSON.stringify(s, null, 2)));
  });
  out.push(raw);
  return h('div', {class: 'detail-inner', dataset: {span: s.span_id}}, out);
}
