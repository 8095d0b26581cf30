import test from 'node:test';
import assert from 'node:assert/strict';
import {extractTraceparent, init, injectTraceparent, startSpan, withSpan, _setLineHook} from '../src/index.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test('extract accepts a valid traceparent from a string or headers', () => {
  assert.deepEqual(extractTraceparent(TP), {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true, remote: true,
  });
  assert.equal(extractTraceparent({traceparent: TP}).spanId, '00f067aa0ba902b7');
  assert.equal(extractTraceparent({TraceParent: TP}).traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(extractTraceparent({traceparent: [TP]}).traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(extractTraceparent(new Headers({traceparent: TP})).spanId, '00f067aa0ba902b7');
  assert.equal(extractTraceparent(TP.replace(/01$/, '00')).sampled, false);
});

test('extract refuses malformed traceparents', () => {
  const bad = [
    undefined, null, '', 42, {}, {traceparent: ''},
    '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // version
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', // short trace
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01', // short span
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', // upper case
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // zero trace
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', // zero span
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1', // flags
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01',
    '00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01',
  ];
  for (const b of bad) assert.equal(extractTraceparent(b), null, String(JSON.stringify(b)));
});

test('inject sets traceparent from the current span, continues an extracted trace', async () => {
  init({socket: '/nonexistent/spans.sock', otel: false});
  const lines = [];
  _setLineHook(l => lines.push(JSON.parse(l)));
  assert.deepEqual(injectTraceparent({}), {}); // no current span: unchanged
  let outer;
  withSpan('outer', s => {
    outer = s;
    const h = injectTraceparent({accept: 'json'});
    assert.equal(h.accept, 'json');
    assert.equal(h.traceparent, `00-${s.traceId}-${s.spanId}-01`);
    assert.equal(s.traceparent(), h.traceparent);
    const hh = injectTraceparent(new Headers());
    assert.equal(hh.get('traceparent'), h.traceparent);
  });
  // Round trip: a server continues the trace from the header.
  const ctx = extractTraceparent({traceparent: outer.traceparent()});
  await withSpan('server', {parent: ctx}, async s => {
    assert.equal(s.traceId, outer.traceId);
    assert.equal(s.parentSpanId, outer.spanId);
  });
  const child = startSpan('from-string', {parent: TP});
  assert.equal(child.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(child.parentSpanId, '00f067aa0ba902b7');
  child.end();
  const bad = startSpan('bad-parent', {parent: 'garbage'});
  assert.equal(bad.parentSpanId, null);
  bad.end();
  assert.deepEqual(lines.map(l => l.name), ['outer', 'server', 'from-string', 'bad-parent']);
  assert.equal(lines[1].parent_span_id, outer.spanId);
});
