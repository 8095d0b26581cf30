import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {flush, init, shutdown, startSpan, stats, withSpan} from '../src/index.js';

// A socket path in an empty temp dir (removed when the tests end).
const dirs = [];
const nowhere = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'svq-'));
  dirs.push(d);
  return path.join(d, 'spans.sock');
};
test.after(() => {
  for (const d of dirs) fs.rmSync(d, {recursive: true, force: true});
});

test('daemon absent: the app runs on, the queue bound drops and counts', async () => {
  init({socket: nowhere(), maxQueueSpans: 100, otel: false});
  for (let i = 0; i < 250; i++) startSpan('s', {input: i}).end();
  let st = stats();
  assert.equal(st.enqueued, 100);
  assert.equal(st.droppedQueueFull, 150);
  assert.equal(st.queueSpans, 100);
  assert.equal(st.connected, false);
  const t = Date.now();
  assert.equal(await flush({timeoutMs: 300}), false);
  assert.ok(Date.now() - t < 3000);
  st = stats();
  assert.equal(st.confirmed, 0);
  assert.match(String(st.lastError), /ENOENT|ECONNREFUSED|connect/);
  await shutdown({timeoutMs: 10});
});

test('the byte bound drops too', () => {
  init({socket: nowhere(), maxQueueBytes: 10000, otel: false});
  for (let i = 0; i < 100; i++) startSpan('s', {input: 'x'.repeat(500)}).end();
  const st = stats();
  assert.ok(st.enqueued > 0 && st.enqueued < 100, `enqueued ${st.enqueued}`);
  assert.equal(st.enqueued + st.droppedQueueFull, 100);
  assert.ok(st.queueBytes <= 10000);
});

test('flush with nothing pending is true at once; end() is idempotent; API before init works', async () => {
  init({socket: nowhere(), otel: false});
  assert.equal(await flush({timeoutMs: 50}), true);
  const s = startSpan('once');
  s.end();
  s.end();
  s.log({input: 'late'}); // after end: ignored by the wire, no throw
  assert.equal(stats().enqueued, 1);
  const r = withSpan('sync', () => 7);
  assert.equal(r, 7);
});

test('lazy default init takes the service from the environment', async () => {
  const {execFileSync} = await import('node:child_process');
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import {startSpan, stats, _setLineHook} from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
    let line; _setLineHook(l => { line = l; });
    startSpan('x').end();
    console.log(JSON.stringify({line: JSON.parse(line), st: stats()}));
  `], {env: {...process.env, SPANVAULT_SERVICE: 'from-env', SPANVAULT_SOCKET: '/nonexistent/x.sock'}, timeout: 20000});
  const {line, st} = JSON.parse(out);
  assert.equal(line.service, 'from-env');
  assert.equal(st.enqueued, 1);
});

test('a process with unsent spans and no daemon still exits (bounded beforeExit flush)', async () => {
  const {execFileSync} = await import('node:child_process');
  const t = Date.now();
  execFileSync(process.execPath, ['--input-type=module', '-e', `
    import {init, startSpan} from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
    init({socket: '/nonexistent/x.sock', flushOnExitMs: 300});
    for (let i = 0; i < 10; i++) startSpan('x').end();
  `], {timeout: 20000});
  assert.ok(Date.now() - t < 15000);
});
