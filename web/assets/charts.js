// Cost & usage: /api/stats by model, by service and by day, drawn as inline
// SVG here (no chart library), with the numbers in tables beside them.
import {h, clear, fmtCost, fmtDuration, fmtTokens, message} from './dom.js';
import {getStats} from './api.js';

const S = tag => `svg:${tag}`;

// Horizontal bars: one per group, length ∝ value.
export function barChart(groups, value, fmt, label = g => String(g.key ?? '(none)')) {
  const rowH = 26;
  const w = 560;
  const labelW = 170;
  const max = Math.max(...groups.map(value), 0) || 1;
  const svg = h(S('svg'), {class: 'chart hbar', viewBox: `0 0 ${w} ${Math.max(1, groups.length) * rowH + 4}`, role: 'img',
    width: '100%', 'aria-label': groups.map(g => `${label(g)}: ${fmt(value(g))}`).join('; ')});
  groups.forEach((g, i) => {
    const y = i * rowH + 2;
    const len = Math.max(1, (value(g) / max) * (w - labelW - 90));
    const name = label(g);
    svg.append(
      h(S('text'), {x: labelW - 6, y: y + rowH / 2 + 4, 'text-anchor': 'end', class: 'lbl'}, name.length > 24 ? `${name.slice(0, 23)}…` : name),
      h(S('rect'), {x: labelW, y: y + 4, width: len, height: rowH - 8, rx: 3, class: 'barfill'}, h(S('title'), {}, `${name}: ${fmt(value(g))}`)),
      h(S('text'), {x: labelW + len + 6, y: y + rowH / 2 + 4, class: 'val'}, fmt(value(g))));
  });
  return svg;
}

// Vertical bars over time buckets (group_by=day|hour).
export function columnChart(groups, value, fmt) {
  const w = 640;
  const ht = 200;
  const pad = {l: 84, b: 34, t: 10, r: 8};
  const max = Math.max(...groups.map(value), 0) || 1;
  const n = Math.max(groups.length, 1);
  const bw = (w - pad.l - pad.r) / n;
  const svg = h(S('svg'), {class: 'chart colchart', viewBox: `0 0 ${w} ${ht}`, width: '100%', role: 'img',
    'aria-label': groups.map(g => `${g.key}: ${fmt(value(g))}`).join('; ')});
  for (let i = 0; i <= 4; ++i) {
    const y = pad.t + (ht - pad.t - pad.b) * (1 - i / 4);
    svg.append(h(S('line'), {x1: pad.l, x2: w - pad.r, y1: y, y2: y, class: 'grid'}),
      h(S('text'), {x: pad.l - 4, y: y + 4, 'text-anchor': 'end', class: 'val'}, fmt(max * i / 4)));
  }
  groups.forEach((g, i) => {
    const v = value(g);
    const bh = (v / max) * (ht - pad.t - pad.b);
    const x = pad.l + i * bw;
    const key = String(g.key ?? '');
    const cw = Math.min(bw * 0.7, 56);
    svg.append(h(S('rect'), {x: x + (bw - cw) / 2, y: ht - pad.b - bh, width: cw, height: Math.max(bh, v > 0 ? 1 : 0), rx: 2, class: 'barfill'},
      h(S('title'), {}, `${key}: ${fmt(v)}`)));
    if (n <= 16 || i % Math.ceil(n / 16) === 0) {
      svg.append(h(S('text'), {x: x + bw / 2, y: ht - pad.b + 14, 'text-anchor': 'middle', class: 'lbl'}, key.slice(5, 10) || key));
    }
  });
  return svg;
}

function statsTable(groups, keyName) {
  return h('table', {class: 'stats'},
    h('thead', {}, h('tr', {}, [keyName, 'Cost', 'Calls', 'Traces', 'Errors', 'Tokens in', 'Tokens out', 'p50', 'p95'].map(c => h('th', {scope: 'col'}, c)))),
    h('tbody', {}, groups.map(g => h('tr', {},
      h('th', {scope: 'row'}, String(g.key ?? '(none)')), h('td', {class: 'num'}, fmtCost(g.cost)), h('td', {class: 'num'}, String(g.calls ?? 0)),
      h('td', {class: 'num'}, String(g.traces ?? 0)), h('td', {class: 'num'}, `${g.errors ?? 0}${g.error_rate ? ` (${(g.error_rate * 100).toFixed(1)}%)` : ''}`),
      h('td', {class: 'num'}, fmtTokens(g.input_tokens)), h('td', {class: 'num'}, fmtTokens(g.output_tokens)),
      h('td', {class: 'num'}, fmtDuration(g.latency_ms && g.latency_ms.p50)), h('td', {class: 'num'}, fmtDuration(g.latency_ms && g.latency_ms.p95))))));
}

const RANGES = [['24h', 'last 24 hours'], ['7d', 'last 7 days'], ['30d', 'last 30 days'], ['1h', 'last hour']];

export function renderCosts({root, params, navigate}) {
  let alive = true;
  const from = params.get('from') || '24h';
  const filters = Object.fromEntries([...params.entries()].filter(([k]) => ['from', 'service', 'environment', 'model'].includes(k)));
  filters.from = from;
  const sel = h('select', {id: 'cost-range', 'aria-label': 'time range',
    onchange: e => navigate(`#/costs?${new URLSearchParams({...filters, from: e.target.value})}`)},
  RANGES.map(([v, t]) => h('option', {value: v, selected: v === from}, t)));
  const body = h('div', {class: 'costs'}, message('Loading…'));
  root.append(h('div', {class: 'page-head'}, h('h1', {}, 'Cost & usage'), sel), body);

  Promise.all(['model', 'service', 'day'].map(g => getStats({...filters, group_by: g}))).then(([byModel, byService, byDay]) => {
    if (!alive) return;
    clear(body);
    const t = byService.total || {};
    const llm = byModel.total || {};
    const cost = g => g.cost || 0;
    const days = [...(byDay.groups || [])].sort((a, b) => String(a.key).localeCompare(String(b.key)));
    body.append(
      h('div', {class: 'totals'}, [['Cost', fmtCost(t.cost)], ['LLM calls', String(llm.calls ?? 0)], ['Traces', String(t.traces ?? 0)],
        ['Tokens', fmtTokens(t.total_tokens)], ['Spans', String(t.calls ?? 0)], ['Errors', String(t.errors ?? 0)]].map(([k, v]) => h('div', {class: 'stat'}, h('div', {class: 'sv'}, v), h('div', {class: 'sk'}, k)))),
      h('section', {class: 'card', id: 'by-model'}, h('h2', {}, 'Cost by model'),
        (byModel.groups || []).length ? barChart(byModel.groups, cost, fmtCost) : message('No model calls in this range.'), statsTable(byModel.groups || [], 'Model')),
      h('section', {class: 'card', id: 'by-service'}, h('h2', {}, 'Cost by service'),
        (byService.groups || []).length ? barChart(byService.groups, cost, fmtCost) : message('No spans in this range.'), statsTable(byService.groups || [], 'Service')),
      h('section', {class: 'card', id: 'by-day'}, h('h2', {}, 'Cost by day'),
        days.length ? columnChart(days, cost, fmtCost) : message('No spans in this range.'),
        days.length ? h('details', {}, h('summary', {}, 'Tokens by day'), columnChart(days, g => g.total_tokens || 0, fmtTokens)) : null));
  }).catch(e => {
    if (!alive) return;
    clear(body);
    body.append(h('p', {class: 'note error'}, `Could not load stats: ${e.message}`));
  });
  return () => {
    alive = false;
  };
}

