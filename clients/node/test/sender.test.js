// The sender against a fake daemon on a real Unix socket: batches and
// barriers, rejected lines, re-sending unanswered batches after the
// connection drops, reconnecting when the daemon appears late.
import test from 'node:test';
import assert from 'node:assert/strict';
import {FakeServer} from '../testlib/fakeserver.js';
import {waitFor} from '../testlib/daemon.js';
import {flush, init, shutdown, startSpan, stats} from '../src/index.js';

test('batches end with a $sync; flush waits for the answers; rejected lines are counted', async () => {
  const server = await new FakeServer({reject: s => (s.name === 'bad' ? 'name "bad" refused' : null)}).start();
  try {
    init({socket: server.path, batchSize: 100, otel: false});
    for (let i = 0; i < 1000; i++) startSpan(i % 250 === 0 ? 'bad' : 'good', {input: i}).end();
    assert.equal(await flush(), true);
    const st = stats();
    assert.equal(st.enqueued, 1000);
    assert.equal(st.sent, 1000);
    assert.equal(st.confirmed, 996);
    assert.equal(st.rejected, 4);
    assert.match(st.lastError, /name "bad" refused/);
    assert.equal(st.queueSpans, 0);
    assert.equal(st.connected, true);
    assert.ok(server.syncs >= 10, `${server.syncs} barriers for 1000 spans of batches ≤ 100`);
    assert.deepEqual(server.byName('good').map(s => s.input).slice(0, 3), [1, 2, 3]);
  } finally {
    await shutdown({timeoutMs: 100});
    await server.close();
  }
});

test('unanswered batches are re-sent after the connection drops (at-least-once, in order)', async () => {
  const server = await new FakeServer({hold: true}).start();
  try {
    init({socket: server.path, batchSize: 50, otel: false});
    for (let i = 0; i < 500; i++) startSpan('s', {input: i}).end();
    await waitFor(() => server.spans.length === 500, {what: 'first delivery'});
    assert.equal(stats().queueSpans, 500, 'unanswered spans stay queued');
    const f = flush({timeoutMs: 10000});
    server.dropConnections(); // the daemon "dies" before answering
    server.hold = false;
    assert.equal(await f, true);
    const st = stats();
    assert.equal(st.reconnects, 1);
    assert.equal(st.confirmed, 500);
    assert.equal(server.spans.length, 1000, 'everything sent twice');
    assert.deepEqual(server.spans.slice(500).map(s => s.input), [...Array(500).keys()]);
  } finally {
    await shutdown({timeoutMs: 100});
    await server.close();
  }
});

test('spans ended while the daemon is down are delivered once it is up', async () => {
  const server = new FakeServer();
  init({socket: server.path, otel: false});
  for (let i = 0; i < 20; i++) startSpan('early', {input: i}).end();
  assert.equal(await flush({timeoutMs: 200}), false);
  await server.start();
  try {
    assert.equal(await flush({timeoutMs: 10000}), true);
    assert.equal(server.spans.length, 20);
  } finally {
    await shutdown({timeoutMs: 100});
    await server.close();
  }
});

test('large volume with a small pipeline keeps order and bounds', async () => {
  const server = await new FakeServer().start();
  try {
    init({socket: server.path, batchSize: 512, otel: false, maxQueueSpans: 100000});
    const payload = 'p'.repeat(1000); // 20000 × ~1 KiB fits the 32 MiB bound
    for (let i = 0; i < 20000; i++) startSpan('v', {input: i, output: payload}).end();
    assert.equal(await flush({timeoutMs: 30000}), true);
    assert.equal(server.spans.length, 20000);
    for (let i = 0; i < 20000; i++) if (server.spans[i].input !== i) assert.fail(`order broken at ${i}`);
  } finally {
    await shutdown({timeoutMs: 100});
    await server.close();
  }
});

test('a barrier answered with a store error: the batch is kept and re-sent', async () => {
  const server = await new FakeServer({failSyncs: 1}).start();
  try {
    init({socket: server.path, otel: false});
    for (let i = 0; i < 10; i++) startSpan('s', {input: i}).end();
    assert.equal(await flush({timeoutMs: 10000}), true);
    const st = stats();
    assert.equal(st.confirmed, 10);
    assert.match(st.lastError, /disk full/);
    assert.equal(st.reconnects, 1);
    assert.deepEqual(server.spans.map(s => s.input), [...Array(10).keys()]);
  } finally {
    await shutdown({timeoutMs: 100});
    await server.close();
  }
});
