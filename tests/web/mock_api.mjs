// A small stand-in of the daemon's query API (docs/api.md), for working on
// the page (and its quick test) without the engine: it serves web/, takes
// canonical spans on POST /v1/spans, and answers /api/traces,
// /api/traces/{id}, /api/sessions/{id}, /api/stats and /api/tail from memory.
// It is NOT the daemon: the registered WebExplorer.RealDaemon test runs the real one.
//   node tests/web/mock_api.mjs [PORT]   (with the test's fixtures loaded)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
const TYPES = {'.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8'};
// USD per million tokens (input, output), as a price table would say.
const PRICES = {'gpt-4o-mini': [0.15, 0.6], 'gpt-4o': [2.5, 10], 'text-embedding-3-small': [0.02, 0]};

const ms = iso => Date.parse(iso);
const round = x => Math.round(x * 1e12) / 1e12;

function canonical(s) {
  const out = {...s, type: String(s.type || 'span').toLowerCase()};
  out.status = s.error ? 'error' : String(s.status || 'ok').toLowerCase() === 'error' ? 'error' : 'ok';
  out.duration_ms = Math.max(0, ms(s.end_time) - ms(s.start_time)) || 0;
  if (s.usage) {
    const u = {...s.usage};
    if (u.prompt_tokens !== undefined) { u.input_tokens = u.prompt_tokens; delete u.prompt_tokens; }
    if (u.completion_tokens !== undefined) { u.output_tokens = u.completion_tokens; delete u.completion_tokens; }
    u.input_tokens = u.input_tokens || 0;
    u.output_tokens = u.output_tokens || 0;
    u.total_tokens = u.total_tokens ?? u.input_tokens + u.output_tokens;
    out.usage = u;
    const p = PRICES[s.model];
    if (p && !s.cost) {
      const input = round(u.input_tokens * p[0] / 1e6);
      const output = round(u.output_tokens * p[1] / 1e6);
      out.cost = {total: round(input + output), input, output, cache_read: 0, cache_write: 0, reasoning: 0, currency: 'USD',
        price_id: `${s.provider || 'openai'}/${s.model}`, source: 'table'};
    }
  }
  out.received_at = new Date().toISOString();
  return out;
}

export function startMock(port = 0) {
  const traces = new Map();  // trace_id → {spans: Map, order}
  const clients = new Set();
  let arrival = 0;

  const summary = t => {
    const spans = [...t.spans.values()];
    const ids = new Set(spans.map(s => s.span_id));
    const parentOf = s => s.parent_span_id || (s.span_parents || [])[0];
    const roots = spans.filter(s => !parentOf(s) || !ids.has(parentOf(s))).sort((a, b) => ms(a.start_time) - ms(b.start_time));
    const root = roots[0];
    const start = Math.min(...spans.map(s => ms(s.start_time)));
    const end = Math.max(...spans.map(s => ms(s.end_time)));
    const sum = k => spans.reduce((a, s) => a + ((s.usage && s.usage[k]) || 0), 0);
    const pick = k => (spans.find(s => s[k]) || {})[k] ?? null;
    const errors = spans.filter(s => s.status === 'error').length;
    return {trace_id: t.id, name: root ? root.name : null, root_span_id: root ? root.span_id : null,
      service: root?.service ?? pick('service'), environment: root?.environment ?? pick('environment'),
      session_id: root?.session_id ?? pick('session_id'), user_id: root?.user_id ?? pick('user_id'),
      start_time: new Date(start).toISOString(), end_time: new Date(end).toISOString(), duration_ms: end - start,
      spans: spans.length, errors, status: errors ? 'error' : 'ok',
      input_tokens: sum('input_tokens'), output_tokens: sum('output_tokens'), total_tokens: sum('total_tokens'),
      cost: round(spans.reduce((a, s) => a + ((s.cost && s.cost.total) || 0), 0)),
      models: [...new Set(spans.map(s => s.model).filter(Boolean))], types: [...new Set(spans.map(s => s.type))],
      tags: [...new Set(spans.flatMap(s => s.tags || []))]};
  };

  const matches = (t, q) => {
    const sum = summary(t);
    const spans = [...t.spans.values()];
    const any = (k, v) => !v || spans.some(s => s[k] === v);
    if (!any('service', q.get('service')) || !any('session_id', q.get('session')) || !any('user_id', q.get('user')) ||
        !any('environment', q.get('environment')) || !any('model', q.get('model')) || !any('type', q.get('type'))) return false;
    if (q.get('status') && sum.status !== q.get('status')) return false;
    if (q.get('min_cost') && sum.cost < Number(q.get('min_cost'))) return false;
    if (q.get('min_duration_ms') && sum.duration_ms < Number(q.get('min_duration_ms'))) return false;
    if (q.get('q') && !spans.some(s => s.name.toLowerCase().includes(q.get('q').toLowerCase()))) return false;
    const from = q.get('from');
    if (from) {
      const m = /^(\d+)([mhd])$/.exec(from);
      const t0 = m ? Date.now() - Number(m[1]) * {m: 60e3, h: 3600e3, d: 86400e3}[m[2]] : ms(from);
      if (ms(sum.start_time) < t0) return false;
    }
    return true;
  };

  const detail = t => {
    const spans = [...t.spans.values()].sort((a, b) => ms(a.start_time) - ms(b.start_time));
    const byId = new Map(spans.map(s => [s.span_id, s]));
    const parentOf = s => { const p = s.parent_span_id || (s.span_parents || [])[0]; return p && byId.has(p) ? p : null; };
    const kids = new Map(spans.map(s => [s.span_id, []]));
    for (const s of spans) {
      const parents = [parentOf(s), ...(s.span_parents || []).filter(p => p !== parentOf(s) && byId.has(p))].filter(Boolean);
      for (const p of parents) kids.get(p).push(s.span_id);
    }
    const out = [];
    const roots = spans.filter(s => !parentOf(s)).map(s => s.span_id);
    const seen = new Set();
    const walk = (id, depth) => {
      if (seen.has(id)) return;
      seen.add(id);
      const s = byId.get(id);
      const desc = new Set();
      const collect = x => { if (desc.has(x)) return; desc.add(x); for (const k of kids.get(x)) collect(k); };
      collect(id);
      const ds = [...desc].map(x => byId.get(x));
      const tok = k => ds.reduce((a, d) => a + ((d.usage && d.usage[k]) || 0), 0);
      out.push({span: s, depth, children: kids.get(id), extra_parents: (s.span_parents || []).filter(p => p !== parentOf(s)),
        rollup: {spans: ds.length, errors: ds.filter(d => d.status === 'error').length, input_tokens: tok('input_tokens'),
          output_tokens: tok('output_tokens'), total_tokens: tok('total_tokens'), cost: round(ds.reduce((a, d) => a + ((d.cost && d.cost.total) || 0), 0))}});
      for (const k of kids.get(id)) if (parentOf(byId.get(k)) === id) walk(k, depth + 1);
    };
    for (const r of roots) walk(r, 0);
    return {trace: summary(t), roots, spans: out};
  };

  const stats = q => {
    const by = q.get('group_by') || 'model';
    const groups = new Map();
    const add = (key, s, t) => {
      if (!groups.has(key)) groups.set(key, {key, calls: 0, traces: new Set(), errors: 0, input_tokens: 0, output_tokens: 0, total_tokens: 0, cost: 0, lat: []});
      const g = groups.get(key);
      g.calls++; g.traces.add(t.id); if (s.status === 'error') g.errors++;
      for (const k of ['input_tokens', 'output_tokens', 'total_tokens']) g[k] += (s.usage && s.usage[k]) || 0;
      g.cost += (s.cost && s.cost.total) || 0; g.lat.push(s.duration_ms);
    };
    const total = {key: null, calls: 0, traces: new Set(), errors: 0, input_tokens: 0, output_tokens: 0, total_tokens: 0, cost: 0, lat: []};
    if (!q.get('from')) q.set('from', '24h');
    for (const t of traces.values()) {
      if (!matches(t, q)) continue;
      for (const s of t.spans.values()) {
        const key = by === 'day' ? s.start_time.slice(0, 10) : by === 'hour' ? `${s.start_time.slice(0, 13)}:00` : s[by];
        if (by === 'model' && !s.model) continue;
        add(key ?? null, s, t);
      }
    }
    const fin = g => {
      const lat = g.lat.sort((a, b) => a - b);
      const p = f => lat.length ? lat[Math.min(lat.length - 1, Math.floor(f * lat.length))] : 0;
      return {key: g.key, calls: g.calls, traces: g.traces.size, errors: g.errors, error_rate: g.calls ? g.errors / g.calls : 0,
        input_tokens: g.input_tokens, output_tokens: g.output_tokens, total_tokens: g.total_tokens, cost: round(g.cost),
        latency_ms: {p50: p(0.5), p95: p(0.95), p99: p(0.99)}};
    };
    for (const g of groups.values()) { total.calls += g.calls; g.traces.forEach(x => total.traces.add(x)); total.errors += g.errors;
      for (const k of ['input_tokens', 'output_tokens', 'total_tokens', 'cost']) total[k] += g[k]; total.lat.push(...g.lat); }
    const list = [...groups.values()].map(fin);
    if (by === 'day' || by === 'hour') list.sort((a, b) => String(a.key).localeCompare(String(b.key)));
    else list.sort((a, b) => b.cost - a.cost || b.calls - a.calls);
    return {group_by: by, groups: list, total: fin(total)};
  };

  const send = (res, status, body) => {
    res.writeHead(status, {'Content-Type': 'application/json'});
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const p = url.pathname;
    if (req.method === 'POST' && p === '/v1/spans') {
      let body = '';
      req.on('data', c => { body += c; });
      req.on('end', () => {
        const text = body.trim();
        const list = text.startsWith('[') ? JSON.parse(text) : text.split('\n').filter(Boolean).map(l => JSON.parse(l));
        for (const raw of list) {
          const s = canonical(raw);
          if (!traces.has(s.trace_id)) traces.set(s.trace_id, {id: s.trace_id, spans: new Map(), arrival: arrival++});
          const t = traces.get(s.trace_id);
          t.spans.set(s.span_id, s);
        }
        const touched = new Set(list.map(s => s.trace_id));
        for (const id of touched) {
          const data = JSON.stringify(summary(traces.get(id)));
          for (const c of clients) c.write(`event: trace\ndata: ${data}\n\n`);
        }
        send(res, 200, {accepted: list.length, rejected: 0, errors: []});
      });
      return;
    }
    if (p === '/api/traces') {
      const all = [...traces.values()].filter(t => matches(t, url.searchParams)).sort((a, b) => b.arrival - a.arrival);
      const limit = Number(url.searchParams.get('limit') || 50);
      const from = Number(url.searchParams.get('cursor') || 0);
      const page = all.slice(from, from + limit);
      return send(res, 200, {traces: page.map(summary), next_cursor: from + limit < all.length ? String(from + limit) : null});
    }
    let m;
    if ((m = /^\/api\/traces\/(.+)$/.exec(p))) {
      const t = traces.get(decodeURIComponent(m[1]));
      return t ? send(res, 200, detail(t)) : send(res, 404, {error: 'no such trace'});
    }
    if ((m = /^\/api\/sessions\/(.+)$/.exec(p))) {
      const id = decodeURIComponent(m[1]);
      const list = [...traces.values()].filter(t => [...t.spans.values()].some(s => s.session_id === id))
        .map(t => { const sum = summary(t); const root = t.spans.get(sum.root_span_id) || {}; return {...sum, input: root.input ?? null, output: root.output ?? null}; })
        .sort((a, b) => ms(a.start_time) - ms(b.start_time));
      if (!list.length) return send(res, 404, {error: 'no such session'});
      const tot = k => list.reduce((a, t) => a + t[k], 0);
      return send(res, 200, {session_id: id, traces: list, totals: {traces: list.length, spans: tot('spans'), errors: tot('errors'), total_tokens: tot('total_tokens'), cost: round(tot('cost'))}});
    }
    if (p === '/api/stats') return send(res, 200, stats(url.searchParams));
    if (p === '/api/tail') {
      res.writeHead(200, {'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache'});
      res.write(': keep-alive\n\n');
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    if (p.startsWith('/api/')) return send(res, 404, {error: 'unknown path'});
    const file = p === '/' || p === '/index.html' ? 'index.html' : p.startsWith('/assets/') && !p.includes('..') ? p.slice(1) : null;
    if (file && fs.existsSync(path.join(WEB, file))) {
      res.writeHead(200, {'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream'});
      return res.end(fs.readFileSync(path.join(WEB, file)));
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise(resolve => server.listen(port, '127.0.0.1', () => {
    resolve({url: `http://127.0.0.1:${server.address().port}`, close: () => {
      for (const c of clients) c.end();
      server.closeAllConnections?.();
      server.close();
    }});
  }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const {ragTrace, secondTurn, bigTrace} = await import('./fixtures.mjs');
  const mock = await startMock(Number(process.argv[2] || 0));
  const post = spans => fetch(`${mock.url}/v1/spans`, {method: 'POST', body: JSON.stringify(spans)});
  const rag = ragTrace();
  await post(rag.spans);
  await post(secondTurn().spans);
  await post(bigTrace().spans);
  console.log(`mock API with fixtures on ${mock.url}/  (RAG trace ${mock.url}/#/trace/${rag.trace_id})`);
}
