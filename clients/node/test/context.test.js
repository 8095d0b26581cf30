// Nesting through AsyncLocalStorage, checked on the lines a fake daemon
// (a real Unix socket) receives.
import test from 'node:test';
import assert from 'node:assert/strict';
import {setTimeout as sleep} from 'node:timers/promises';
import {FakeServer} from '../testlib/fakeserver.js';
import {currentSpan, flush, init, startSpan, stats, traced, withSpan} from '../src/index.js';
import {_setOtel} from '../src/context.js';

let server;

test.before(async () => {
  server = await new FakeServer().start();
});
test.after(async () => {
  await server.close();
});

function fresh() {
  server.spans.length = 0;
  init({socket: server.path, service: 'ctx-test', otel: false, flushIntervalMs: 5});
}

function one(name) {
  const s = server.byName(name);
  assert.equal(s.length, 1, `one span named ${name}, got ${s.length}`);
  return s[0];
}

test('await, Promise.all of concurrent traced calls, setTimeout', async () => {
  fresh();
  const leaf = traced(async function leaf(i) {
    await sleep(5 * (3 - i));
    return currentSpan().spanId;
  });
  const middle = traced(async function middle(i) {
    await sleep(1);
    const ids = await Promise.all([leaf(i), leaf(i)]);
    return ids.length;
  });
  let rootSpan;
  await withSpan('root', {sessionId: 'sess-1', userId: 'u-1'}, async s => {
    rootSpan = s;
    await Promise.all([middle(0), middle(1), middle(2)]);
    await new Promise(resolve => setTimeout(() => {
      startSpan('in-timeout').end();
      resolve();
    }, 2));
    setImmediate(() => startSpan('in-immediate').end());
    await sleep(5);
  });
  assert.equal(await flush({timeoutMs: 5000}), true);
  const root = one('root');
  assert.equal(root.parent_span_id, null);
  assert.equal(root.span_id, rootSpan.spanId);
  const middles = server.byName('middle');
  const leaves = server.byName('leaf');
  assert.equal(middles.length, 3);
  assert.equal(leaves.length, 6);
  for (const m of middles) {
    assert.equal(m.parent_span_id, root.span_id);
    assert.equal(m.trace_id, root.trace_id);
    assert.equal(m.session_id, 'sess-1');
    assert.equal(m.user_id, 'u-1');
    assert.equal(m.output, 2);
    const kids = leaves.filter(l => l.parent_span_id === m.span_id);
    assert.equal(kids.length, 2, 'each middle has its own two leaves');
    for (const k of kids) {
      assert.equal(k.input, m.input);
      assert.equal(k.output, k.span_id, 'currentSpan() inside is the leaf itself');
      assert.equal(k.session_id, 'sess-1');
    }
  }
  assert.equal(one('in-timeout').parent_span_id, root.span_id);
  assert.equal(one('in-immediate').parent_span_id, root.span_id);
  for (const s of server.spans) {
    assert.equal(s.service, 'ctx-test');
    assert.ok(s.end_time >= s.start_time);
    assert.ok(s.start_time > 1.7e9 && s.start_time < 1e10);
  }
});

test('generators and async generators: the span covers the iteration', async () => {
  fresh();
  const gen = traced(function* counter(n) {
    for (let i = 0; i < n; i++) {
      startSpan('gen-step').end();
      yield i;
    }
    return 'done';
  });
  const agen = traced(async function* stream(n) {
    for (let i = 0; i < n; i++) {
      await sleep(1);
      startSpan('agen-step').end();
      yield `t${i}`;
    }
  });
  const many = traced(function* many() {
    for (let i = 0; i < 1500; i++) yield i;
  });
  await withSpan('outer', async () => {
    assert.deepEqual([...gen(3)], [0, 1, 2]);
    const got = [];
    for await (const t of agen(3)) got.push(t);
    assert.deepEqual(got, ['t0', 't1', 't2']);
    // break early: the span still ends, with what was yielded so far
    for await (const t of agen(5)) if (t === 't1') break;
    let n = 0;
    for (const _ of many()) n++;
    assert.equal(n, 1500);
  });
  assert.equal(await flush(), true);
  const outer = one('outer');
  const g = one('counter');
  assert.equal(g.parent_span_id, outer.span_id);
  assert.deepEqual(g.output, [0, 1, 2]);
  assert.equal(g.input, 3);
  for (const st of server.byName('gen-step')) assert.equal(st.parent_span_id, g.span_id);
  const streams = server.byName('stream');
  assert.equal(streams.length, 2);
  const full = streams.find(s => s.input === 3);
  const broken = streams.find(s => s.input === 5);
  assert.deepEqual(full.output, ['t0', 't1', 't2']);
  assert.deepEqual(broken.output, ['t0', 't1']);
  const steps = server.byName('agen-step');
  assert.equal(steps.length, 5);
  assert.equal(steps.filter(s => s.parent_span_id === full.span_id).length, 3);
  assert.equal(steps.filter(s => s.parent_span_id === broken.span_id).length, 2);
  const m = one('many');
  assert.equal(m.output.length, 1000);
  assert.equal(m.attributes['spanvault.output_items_dropped'], 500);
});

test('errors are recorded and re-thrown unchanged; this is passed through', async () => {
  fresh();
  const boom = new RangeError('sync boom');
  const syncFail = traced(function syncFail() {
    throw boom;
  });
  const asyncFail = traced(async function asyncFail() {
    await sleep(1);
    throw new TypeError('async boom');
  });
  const genFail = traced(function* genFail() {
    yield 1;
    throw new Error('gen boom');
  });
  const obj = {
    k: 41,
    method: traced(function method(x) {
      return this.k + x;
    }, {name: 'obj.method', type: 'tool', tags: ['t1'], metadata: {m: 1}}),
  };
  assert.throws(() => syncFail(), e => e === boom);
  await assert.rejects(asyncFail(), {name: 'TypeError', message: 'async boom'});
  assert.throws(() => [...genFail()], /gen boom/);
  await assert.rejects(withSpan('ws-fail', async () => {
    throw new Error('ws boom');
  }), /ws boom/);
  assert.equal(obj.method(1), 42);
  assert.equal(obj.method.name, 'method');
  assert.equal(await flush(), true);
  const s = one('syncFail');
  assert.equal(s.status, 'error');
  assert.deepEqual({type: s.error.type, message: s.error.message}, {type: 'RangeError', message: 'sync boom'});
  assert.match(s.error.stack, /sync boom/);
  assert.equal(one('asyncFail').error.type, 'TypeError');
  const g = one('genFail');
  assert.equal(g.error.message, 'gen boom');
  assert.deepEqual(g.output, [1]);
  assert.equal(one('ws-fail').error.message, 'ws boom');
  const m = one('obj.method');
  assert.equal(m.type, 'tool');
  assert.deepEqual(m.tags, ['t1']);
  assert.equal(m.metadata.m, 1);
  assert.equal(m.output, 42);
  assert.equal(m.input, 1);
});

test('span API: log merges, tags append, camelCase → snake_case, explicit parent, no-op current span', async () => {
  fresh();
  const noop = currentSpan();
  assert.equal(noop.spanId, '');
  noop.log({input: 1}).setAttributes({a: 1}).end(); // does nothing
  const root = startSpan('manual', {
    type: 'agent', metadata: {a: 1}, tags: ['x'], sessionId: 's', userId: 'u', model: 'm0', provider: 'p',
    startTime: 1700000000, input: 'in',
  });
  assert.equal(currentSpan(), noop, 'startSpan does not make the span current');
  root.log({metadata: {b: 2}, metrics: {m1: 1}, scores: {q: 0.5}, tags: ['y'], modelParameters: {temperature: 0}, expected: 'exp'});
  root.log({metrics: {m2: 2}, output: 'out', usage: {input_tokens: 3, output_tokens: 4}, model: 'm1'});
  root.setAttributes({'k.v': 1});
  const child = startSpan('child', {parent: root});
  assert.equal(child.traceId, root.traceId);
  assert.equal(child.parentSpanId, root.spanId);
  assert.equal(child.sessionId, 's');
  const other = startSpan('child-own-session', {parent: root, sessionId: 'other'});
  assert.equal(other.sessionId, 'other');
  const fresh2 = startSpan('new-trace', {parent: null});
  assert.notEqual(fresh2.traceId, root.traceId);
  child.end();
  other.end();
  fresh2.end();
  root.end({endTime: new Date(1700000001500)});
  assert.equal(await flush(), true);
  const r = one('manual');
  assert.equal(r.type, 'agent');
  assert.deepEqual(r.metadata, {a: 1, b: 2});
  assert.deepEqual(r.metrics, {m1: 1, m2: 2});
  assert.deepEqual(r.scores, {q: 0.5});
  assert.deepEqual(r.tags, ['x', 'y']);
  assert.deepEqual(r.model_parameters, {temperature: 0});
  assert.equal(r.session_id, 's');
  assert.equal(r.user_id, 'u');
  assert.equal(r.model, 'm1');
  assert.equal(r.provider, 'p');
  assert.equal(r.expected, 'exp');
  assert.equal(r.start_time, 1700000000);
  assert.equal(r.end_time, 1700000001.5);
  assert.deepEqual(r.attributes, {'k.v': 1});
  assert.equal(one('child').session_id, 's');
  assert.equal(one('child').user_id, 'u');
  assert.equal(one('child-own-session').session_id, 'other');
  assert.equal(one('new-trace').parent_span_id, null);
});

test('an OpenTelemetry active span is the parent when no spanvault span is current', async () => {
  server.spans.length = 0;
  init({socket: server.path, otel: true, flushIntervalMs: 5});
  const otelCtx = {traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1};
  _setOtel({trace: {getActiveSpan: () => ({spanContext: () => otelCtx})}});
  try {
    await withSpan('under-otel', async () => {
      startSpan('inner').end();
    });
  } finally {
    _setOtel(null);
  }
  withSpan('no-otel', () => {});
  assert.equal(await flush(), true);
  const u = one('under-otel');
  assert.equal(u.trace_id, 'a'.repeat(32));
  assert.equal(u.parent_span_id, 'b'.repeat(16));
  assert.equal(one('inner').parent_span_id, u.span_id, 'spanvault span wins over OTel once current');
  assert.equal(one('no-otel').parent_span_id, null);
  assert.equal(stats().confirmed, 3);
});
