import test from 'node:test';
import assert from 'node:assert/strict';
import {init, startSpan, stats, _setLineHook} from '../src/index.js';
import {safeStringify, serializeSpan} from '../src/serialize.js';

function capture(opts = {}) {
  init({socket: '/nonexistent/spans.sock', otel: false, ...opts});
  const lines = [];
  _setLineHook(l => lines.push(l));
  return lines;
}

test('values JSON cannot hold are made safe, never thrown', () => {
  const lines = capture();
  const circ = {a: 1};
  circ.self = circ;
  const shared = {z: 1};
  class Custom {
    constructor() {
      this.k = 'v';
    }
  }
  const err = new TypeError('bad thing');
  startSpan('weird', {
    input: {
      big: 10n ** 20n, circ, fn: function named() {}, arrow: () => 1, buf: Buffer.from('hello'), u8: new Uint8Array(3),
      map: new Map([['a', 1], [2, 'b']]), set: new Set([1, 'x']), err, shared: [shared, shared], custom: new Custom(),
      date: new Date(0), sym: Symbol('s'), nan: NaN, undef: undefined, nested: {deep: {deeper: [1n]}},
    },
  }).end();
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].includes('\n'));
  const s = JSON.parse(lines[0]);
  const i = s.input;
  assert.equal(i.big, '100000000000000000000');
  assert.equal(i.circ.a, 1);
  assert.equal(i.circ.self, '[Circular]');
  assert.equal(i.fn, '[Function named]');
  assert.equal(i.arrow, '[Function arrow]');
  assert.equal(i.buf, '[Buffer 5 bytes]');
  assert.equal(i.u8, '[Buffer 3 bytes]');
  assert.deepEqual(i.map, {a: 1, 2: 'b'});
  assert.deepEqual(i.set, [1, 'x']);
  assert.equal(i.err.type, 'TypeError');
  assert.equal(i.err.message, 'bad thing');
  assert.match(i.err.stack, /bad thing/);
  assert.deepEqual(i.shared, [{z: 1}, {z: 1}]); // shared is not circular
  assert.deepEqual(i.custom, {k: 'v'});
  assert.equal(i.date, '1970-01-01T00:00:00.000Z');
  assert.equal(i.sym, 'Symbol(s)');
  assert.equal(i.nan, null);
  assert.ok(!('undef' in i));
  assert.deepEqual(i.nested, {deep: {deeper: ['1']}});
  assert.equal(stats().droppedSerialize, 0);
});

test('too deep nesting is cut below the daemon limit', () => {
  let deep = {};
  const root = deep;
  for (let k = 0; k < 200; k++) deep = deep.x = {};
  const r = JSON.parse(safeStringify(root));
  let depth = 0;
  for (let v = r; typeof v === 'object'; v = v.x) depth++;
  assert.ok(depth < 64, `depth ${depth}`);
});

test('a span over maxSpanBytes gets its payload replaced by markers', () => {
  const lines = capture({maxSpanBytes: 4096});
  const big = 'é'.repeat(3000); // 6000 UTF-8 bytes, 3000 UTF-16 units
  startSpan('big', {input: big, output: {text: big}, metadata: {kept: true}}).end();
  assert.equal(lines.length, 1);
  assert.ok(Buffer.byteLength(lines[0]) <= 4096);
  const s = JSON.parse(lines[0]);
  assert.match(s.input, /^\[spanvault: truncated \d+ bytes\]$/);
  assert.equal(s.input, '[spanvault: truncated 6002 bytes]');
  assert.match(s.output, /^\[spanvault: truncated \d+ bytes\]$/);
  assert.deepEqual(s.attributes['spanvault.truncated'], ['input', 'output']);
  assert.deepEqual(s.metadata, {kept: true});
  assert.equal(stats().truncated, 1);
});

test('a span still too large after truncation is dropped and counted', () => {
  const lines = capture({maxSpanBytes: 1024});
  startSpan('huge-meta', {metadata: {blob: 'x'.repeat(5000)}}).end();
  assert.equal(lines.length, 0);
  const st = stats();
  assert.equal(st.droppedSerialize, 1);
  assert.match(st.lastError, /too large/);
});

test('serializeSpan keeps the fast path and the safe path equivalent', () => {
  const w = {name: 'n', input: [{role: 'user', content: 'hi'}], output: {a: [1, 2, {b: null}]}, d: new Date(5)};
  assert.equal(serializeSpan(w, 1e6).line, JSON.stringify(w));
  const withMap = {...w, m: new Map([['k', 1]])};
  assert.equal(JSON.parse(serializeSpan(withMap, 1e6).line).m.k, 1);
});
