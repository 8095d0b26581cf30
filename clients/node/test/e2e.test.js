// End to end against the real spanvaultd (env SPANVAULTD, default
// ../../build/spanvaultd; skipped when absent unless CI=true).
import test from 'node:test';
import assert from 'node:assert/strict';
import {setTimeout as sleep} from 'node:timers/promises';
import {Daemon, daemonAvailability, waitFor} from '../testlib/daemon.js';
import {flush, init, shutdown, startSpan, stats, traced, withSpan} from '../src/index.js';

const avail = daemonAvailability();
const opts = {skip: avail.skip, timeout: 180000};

test('nested, async and concurrent traces arrive with the right parents', opts, async () => {
  const d = await new Daemon(avail.bin).start();
  try {
    init({socket: d.socket, service: 'e2e-node', environment: 'test', release: '1.2.3', otel: false});
    const retrieve = traced(async function retrieve(q) {
      await sleep(2);
      return [`doc about ${q}`];
    }, {type: 'retrieval'});
    const answer = traced(async function answer(q) {
      const docs = await retrieve(q);
      await withSpan('llm', {type: 'generation', model: 'gpt-4o-mini', provider: 'openai'}, async s => {
        await sleep(1);
        s.log({input: [{role: 'user', content: q}], output: 'ok', usage: {input_tokens: 10, output_tokens: 2}});
      });
      return docs.length;
    }, {type: 'chain'});
    let traceIds = [];
    await withSpan('batch', {type: 'agent', sessionId: 'sess-e2e'}, async s => {
      traceIds.push(s.traceId);
      await Promise.all(['a', 'b', 'c'].map(q => answer(q)));
    });
    // A second, independent trace at the same time.
    const other = withSpan('other-root', async s => {
      traceIds.push(s.traceId);
      await sleep(3);
    });
    await other;
    assert.equal(await flush(), true);
    const spans = await d.waitTrace(traceIds[0], 10);
    assert.equal(spans.length, 10);
    const by = name => spans.filter(s => s.name === name);
    const [root] = by('batch');
    assert.equal(root.parent_span_id ?? null, null);
    assert.equal(root.type, 'agent');
    assert.equal(root.service, 'e2e-node');
    assert.equal(root.environment, 'test');
    assert.equal(root.release, '1.2.3');
    assert.equal(by('answer').length, 3);
    for (const a of by('answer')) {
      assert.equal(a.parent_span_id, root.span_id);
      assert.equal(a.type, 'chain');
      assert.equal(a.session_id, 'sess-e2e');
      assert.equal(a.output, 1);
      const r = by('retrieve').find(x => x.parent_span_id === a.span_id);
      assert.ok(r, 'each answer has its retrieve');
      assert.equal(r.input, a.input);
      assert.equal(r.type, 'retrieval');
      const l = by('llm').find(x => x.parent_span_id === a.span_id);
      assert.equal(l.model, 'gpt-4o-mini');
      assert.equal(l.usage.input_tokens, 10);
      assert.equal(l.usage.total_tokens, 12);
      assert.deepEqual(l.input, [{role: 'user', content: a.input}]);
    }
    const otherSpans = await d.waitTrace(traceIds[1], 1);
    assert.equal(otherSpans.length, 1);
    assert.notEqual(traceIds[0], traceIds[1]);
    assert.equal(stats().rejected, 0);
  } finally {
    await shutdown({timeoutMs: 1000});
    await d.close();
  }
});

test('a daemon restart (SIGTERM) while sending loses nothing', opts, async () => {
  const d = await new Daemon(avail.bin).start();
  try {
    init({socket: d.socket, service: 'e2e-restart', otel: false, maxQueueSpans: 50000});
    const ids = new Set();
    const N = 20000;
    let restarted = false;
    const restart = (async () => {
      await waitFor(() => ids.size >= N / 4, {timeoutMs: 60000, intervalMs: 5, what: 'a quarter sent'});
      await d.stop('SIGTERM');
      await sleep(200); // down for a while: the client must retry
      await d.start();
      restarted = true;
    })();
    for (let i = 0; i < N; i++) {
      const s = startSpan('r', {input: i});
      ids.add(s.spanId);
      s.end();
      if (i % 200 === 199) await sleep(1);
    }
    await restart;
    assert.ok(restarted);
    assert.equal(await flush({timeoutMs: 60000}), true, JSON.stringify(stats()));
    const st = stats();
    assert.equal(st.droppedQueueFull, 0);
    assert.ok(st.reconnects >= 1, `reconnects ${st.reconnects}`);
    const stored = await waitFor(async () => {
      const got = await d.exportSpanIds({service: 'e2e-restart'});
      let missing = 0;
      for (const id of ids) if (!got.has(id)) missing++;
      return missing === 0 ? got : null;
    // Read back through the query API, whose index trails the store by
    // seconds under a sanitizer build: poll slowly, wait long.
    }, {timeoutMs: 120000, intervalMs: 1000, what: 'every span id in the store'});
    assert.ok(stored.size >= N);
  } finally {
    await shutdown({timeoutMs: 1000});
    await d.close();
  }
});

test('after SIGKILL mid-stream, every span a flush() confirmed is in the store', opts, async () => {
  const d = await new Daemon(avail.bin).start();
  try {
    init({socket: d.socket, service: 'e2e-kill', otel: false, maxQueueSpans: 50000});
    const confirmed = [];
    let pending = [];
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 500; i++) {
        const s = startSpan('k', {input: round * 1000 + i});
        pending.push(s.spanId);
        s.end();
      }
      assert.equal(await flush({timeoutMs: 20000}), true);
      confirmed.push(...pending);
      pending = [];
    }
    // Keep sending while the daemon is killed.
    for (let i = 0; i < 3000; i++) startSpan('k-unconfirmed', {input: i}).end();
    await sleep(1);
    await d.stop('SIGKILL');
    await d.start();
    const got = await waitFor(async () => {
      const ids = await d.exportSpanIds({service: 'e2e-kill'});
      return confirmed.every(id => ids.has(id)) ? ids : null;
    }, {timeoutMs: 120000, intervalMs: 1000, what: 'confirmed spans after SIGKILL'});
    assert.ok(got.size >= confirmed.length);
    // And the client reconnects and delivers the rest.
    assert.equal(await flush({timeoutMs: 60000}), true);
  } finally {
    await shutdown({timeoutMs: 1000});
    await d.close();
  }
});

test('a process that ends without flush() still delivers (beforeExit flush)', opts, async () => {
  const {execFile} = await import('node:child_process');
  const d = await new Daemon(avail.bin).start();
  try {
    const src = new URL('../src/index.js', import.meta.url).href;
    const out = await new Promise((resolve, reject) => execFile(process.execPath, ['--input-type=module', '-e', `
      import {init, withSpan, startSpan} from ${JSON.stringify(src)};
      init({socket: ${JSON.stringify(d.socket)}, service: 'e2e-exit'});
      let tid;
      withSpan('exit-root', s => { tid = s.traceId; for (let i = 0; i < 100; i++) startSpan('exit-child').end(); });
      console.log(tid);
    `], {timeout: 30000}, (err, stdout) => (err ? reject(err) : resolve(stdout))));
    const spans = await d.waitTrace(out.trim(), 101);
    assert.equal(spans.length, 101);
  } finally {
    await d.close();
  }
});
