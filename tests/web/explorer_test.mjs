// The trace explorer in a real browser: playwright-core drives Debian's
// chromium against the real spanvaultd (--daemon PATH) or the stand-in API
// (--mock), feeds it spans over POST /v1/spans, and checks what a person sees.
//   node tests/web/explorer_test.mjs --daemon build/spanvaultd --artifacts DIR
//   node tests/web/explorer_test.mjs --mock --artifacts DIR
// Run through tests/web/run.sh (CTest: WebExplorer.*).
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {chromium} from 'playwright-core';
import {ragTrace, secondTurn, liveTrace, bigTrace, SESSION, QUESTION, ANSWER, HOSTILE} from './fixtures.mjs';
import {startMock} from './mock_api.mjs';
import {startDaemon} from './daemon.mjs';

const args = process.argv.slice(2);
const opt = name => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const ARTIFACTS = opt('--artifacts') || path.resolve('build/test-artifacts/web');
const CHROMIUM = process.env.SPANVAULT_CHROMIUM || '/usr/bin/chromium';
fs.mkdirSync(ARTIFACTS, {recursive: true});

let server;
let browser;
let page;
const rag = ragTrace();
const turn2 = secondTurn();
const big = bigTrace();

async function post(spans) {
  for (let i = 0; i < spans.length; i += 400) {
    const res = await fetch(`${server.url}/v1/spans`, {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(spans.slice(i, i + 400))});
    const body = await res.text();
    assert.equal(res.status, 200, body);
    assert.equal(JSON.parse(body).rejected, 0, body);
  }
}

async function api(p) {
  const res = await fetch(`${server.url}${p}`);
  return {status: res.status, body: await res.json().catch(() => null)};
}

// Until the API lists the trace with all its spans (the store is asynchronous).
async function waitForTrace(id, spans, timeoutMs = Number(process.env.SPANVAULT_WEB_WAIT_MS || 60_000)) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await api(`/api/traces/${id}`);
    if (last.status === 200 && last.body && last.body.spans && last.body.spans.length === spans) return last.body;
    await new Promise(r => setTimeout(r, 100));
  }
  assert.fail(`trace ${id} never had ${spans} spans on /api: last answer ${last && last.status} ${JSON.stringify(last && last.body).slice(0, 300)}`);
}

const shot = name => page.screenshot({path: path.join(ARTIFACTS, `${name}.png`), fullPage: false});
const texts = loc => loc.evaluateAll(els => els.map(e => e.textContent));

before(async () => {
  server = args.includes('--mock') ? await startMock() : await startDaemon(opt('--daemon'));
  await post(rag.spans);
  await post(turn2.spans);
  await post(big.spans);
  await waitForTrace(rag.trace_id, rag.spans.length);
  await waitForTrace(turn2.trace_id, 1);
  await waitForTrace(big.trace_id, big.spans.length);
  browser = await chromium.launch({executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']});
  page = await browser.newPage({viewport: {width: 1440, height: 900}});
  page.on('pageerror', e => console.error('page error:', e.message));
  page.on('dialog', d => { console.error('unexpected dialog', d.message()); d.dismiss(); });
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.close();
});

test('the asset routes serve the page and its modules', async () => {
  const res = await fetch(`${server.url}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/html/);
  assert.match(await res.text(), /\/assets\/app\.js/);
  const js = await fetch(`${server.url}/assets/trace.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
});

test('trace list: the traces, filters, live arrivals', async () => {
  await page.goto(`${server.url}/#/traces`);
  const row = page.locator(`tr[data-trace="${rag.trace_id}"]`);
  await row.waitFor({timeout: 15_000});
  const cells = await texts(row.locator('td'));
  assert.equal(cells[1], 'rag-answer');
  assert.equal(cells[2], 'rag-api');
  assert.equal(cells[3], SESSION);
  assert.equal(cells[4], '2.31s');
  assert.equal(cells[5], '8');
  assert.match(cells[7], /^\$0\.000\d+$/, `cost cell ${cells[7]}`);
  assert.match(cells[8], /error \(1\)/);
  await page.locator(`tr[data-trace="${big.trace_id}"]`).waitFor();

  // Filter: status=error keeps the RAG trace, drops the big one.
  await page.selectOption('#f-status', 'error');
  await page.click('form.filters button[type=submit]');
  await page.waitForFunction(() => location.hash.includes('status=error'));
  await row.waitFor();
  await page.locator(`tr[data-trace="${big.trace_id}"]`).waitFor({state: 'detached'});
  // Filter: name contains "batch" keeps only the big trace; From takes a duration.
  await page.click('form.filters button[type=reset]');
  await page.fill('#f-q', 'batch');
  await page.fill('#f-from', '1h');
  await page.press('#f-q', 'Enter');
  await page.locator(`tr[data-trace="${rag.trace_id}"]`).waitFor({state: 'detached'});
  await page.locator(`tr[data-trace="${big.trace_id}"]`).waitFor();
  assert.match(await page.evaluate(() => location.hash), /q=batch/);
  await page.click('form.filters button[type=reset]');
  await page.locator(`tr[data-trace="${big.trace_id}"]`).waitFor();

  // Live: a trace sent now appears without a reload (SSE tail).
  await page.locator('.live.on').waitFor({timeout: 15_000});
  const live = liveTrace();
  await post(live.spans);
  await page.locator(`tr[data-trace="${live.trace_id}"]`).waitFor({timeout: 20_000});
  await shot('list');

  // Cursor pages: 2 at a time, "Load more" until the last page.
  await page.goto(`${server.url}/#/traces?limit=2`);
  await page.reload();
  const body = page.locator('table.traces tbody tr');
  await body.nth(1).waitFor();
  assert.equal(await body.count(), 2);
  await page.click('button.more');
  await body.nth(3).waitFor();
  assert.equal(await body.count(), 4);
  await page.locator('button.more').waitFor({state: 'hidden'});
  await page.goto(`${server.url}/#/traces`);
  await page.locator(`tr[data-trace="${rag.trace_id}"]`).waitFor();
});

test('trace view: tree, waterfall, DAG marker, event, error', async () => {
  await page.locator(`tr[data-trace="${rag.trace_id}"] a.trace-link`).click();
  await page.locator('.rows .row').first().waitFor();
  const rows = page.locator('.rows .row');
  const names = await texts(rows.locator('.name'));
  assert.deepEqual(names, ['rag-answer', 'embed-query', 'vector-search', 'rerank-docs', 'cache-miss', 'generate-answer', 'attach-citations', 'safety-check']);
  const depths = await rows.evaluateAll(els => els.map(e => Number(e.dataset.depth)));
  assert.deepEqual(depths, [0, 1, 1, 1, 1, 1, 2, 1]);
  const row = name => page.locator('.rows .row', {has: page.locator('.name', {hasText: new RegExp(`^${name}$`)})});
  assert.equal(await row('rag-answer').locator('.dur').textContent(), '2.31s');
  assert.equal(await row('vector-search').locator('.dur').textContent(), '240ms');
  assert.match(await row('generate-answer').locator('.tok').textContent(), /1380 tok/);
  assert.match(await row('generate-answer').locator('.cost').textContent(), /^\$0\.000\d+/);
  assert.ok(await row('rerank-docs').evaluate(e => e.classList.contains('err')), 'the failed span is marked');
  assert.equal(await row('rerank-docs').locator('.errmark').count(), 1);
  assert.equal(await row('cache-miss').locator('.marker').count(), 1, 'the event is a marker, not a bar');
  assert.match(await row('attach-citations').locator('.dag').textContent(), /also child of vector-search/);
  // Parallel spans overlap on the time axis.
  const box = async n => row(n).locator('.bar').boundingBox();
  const gen = await box('generate-answer');
  const guard = await box('safety-check');
  assert.ok(guard.x < gen.x + gen.width && gen.x < guard.x + guard.width, 'generation and guardrail overlap');
  const root = await box('rag-answer');
  assert.ok(root.width > gen.width, 'the root bar spans its children');
  // Collapse and expand the root.
  await row('rag-answer').locator('button.tw').click();
  assert.equal(await rows.count(), 1);
  await row('rag-answer').locator('button.tw').click();
  assert.equal(await rows.count(), 8);
  await shot('trace');
  // A span arriving later: offered, then shown on request.
  await post([{...rag.spans[2], span_id: 'a1b2c3d4e5f60718', name: 'late-rerank', type: 'tool',
    input: undefined, output: undefined, start_time: rag.spans[2].end_time}]);
  await page.locator('button.grown').click({timeout: 20_000});
  await row('late-rerank').waitFor();
  assert.equal(await rows.count(), 9);
  // The theme button switches dark / light.
  const theme = () => page.evaluate(() => document.documentElement.dataset.theme);
  const before = await theme();
  await page.click('header button');
  assert.notEqual(await theme(), before);
  await shot('trace-other-theme');
  await page.click('header button');
  assert.equal(await theme(), before);
});

test('span detail: chat, model, usage, cost with price id, scores, error', async () => {
  const row = name => page.locator('.rows .row', {has: page.locator('.name', {hasText: new RegExp(`^${name}$`)})});
  await row('generate-answer').click();
  const d = page.locator('aside.detail');
  await d.locator('.detail-name', {hasText: 'generate-answer'}).waitFor();
  const user = d.locator('section', {hasText: 'Input'}).locator('.msg.role-user');
  assert.match(await user.textContent(), new RegExp(QUESTION.replace(/[?]/g, '\\?')));
  assert.match(await user.textContent(), /Documents: doc-1, doc-2/);
  assert.equal(await d.locator('section', {hasText: 'Input'}).locator('.msg.role-system').count(), 1);
  const out = d.locator('section', {hasText: 'Output'}).locator('.msg.role-assistant');
  assert.match(await out.textContent(), new RegExp(ANSWER.replace(/[.]/g, '\\.')));
  const model = await d.locator('section', {hasText: 'Model'}).textContent();
  assert.match(model, /gpt-4o-mini/);
  assert.match(model, /temperature/);
  assert.match(await d.locator('section', {hasText: 'Usage'}).textContent(), /input1200.*output180.*total1380/s);
  const cost = d.locator('section', {hasText: 'Cost'});
  assert.match(await cost.locator('.cost-total').textContent(), /^\$0\.000\d+/);
  assert.match(await cost.locator('.price-id').textContent(), /gpt-4o-mini/);
  assert.match(await cost.textContent(), /input.*output/s);
  assert.match(await d.locator('section', {hasText: 'Scores'}).textContent(), /faithfulness0\.920/);
  await shot('span');

  // Keyboard: Down from the generation goes to its child; the detail follows.
  await page.locator('.rows').focus();
  await page.keyboard.press('ArrowDown');
  await d.locator('.detail-name', {hasText: 'attach-citations'}).waitFor();
  assert.match(await d.textContent(), /Also child ofvector-search/);

  await row('rerank-docs').click();
  const err = d.locator('.error-card');
  await err.waitFor();
  assert.match(await err.textContent(), /reranker timed out after 100 ms/);

  await row('vector-search').click();
  await d.locator('.detail-name', {hasText: 'vector-search'}).waitFor();
  assert.ok(await d.locator('section', {hasText: 'Output'}).locator('details.jnode').count() > 0, 'non-chat JSON is a tree');
  assert.match(await d.locator('section', {hasText: 'Output'}).textContent(), /spanvault buffers spans in RocksDB/);
});

test('session view: turn by turn as a chat, markup stays text', async () => {
  await page.goto(`${server.url}/#/session/${SESSION}`);
  await page.locator('.turn').nth(1).waitFor();
  const turns = page.locator('.turn');
  assert.equal(await turns.count(), 2);
  assert.match(await turns.nth(0).locator('.msg.role-user').last().textContent(), new RegExp(QUESTION.replace(/[?]/g, '\\?')));
  assert.match(await turns.nth(0).locator('.msg.role-assistant').textContent(), new RegExp(ANSWER.replace(/[.]/g, '\\.')));
  assert.match(await turns.nth(1).locator('.msg.role-user').textContent(), /can I see the spans in a browser/);
  const shown = await turns.nth(1).locator('.msg.role-assistant').textContent();
  assert.ok(shown.includes(HOSTILE), 'the markup is shown as text');
  assert.equal(await page.locator('main img, main script').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await shot('session');
});

test('cost & usage: charts by model, service and day', async () => {
  await page.goto(`${server.url}/#/costs`);
  await page.locator('#by-model svg').waitFor({timeout: 15_000});
  const labels = await texts(page.locator('#by-model svg text.lbl'));
  assert.ok(labels.includes('gpt-4o-mini'), `model labels ${labels}`);
  assert.ok((await texts(page.locator('#by-service svg text.lbl'))).includes('rag-api'));
  assert.ok(await page.locator('#by-day svg rect.barfill').count() >= 1);
  const bar = await page.locator('#by-model svg rect.barfill').first().boundingBox();
  assert.ok(bar.width > 20, 'the largest cost has a visible bar');
  assert.match(await page.locator('.totals').textContent(), /\$0\.000\d+/);
  await shot('costs');
});

test('a 5,001-span trace opens fast and renders only the rows in view', async () => {
  const t0 = Date.now();
  await page.goto(`${server.url}/#/trace/${big.trace_id}`);
  await page.locator('.rows .row').first().waitFor({timeout: 30_000});
  const openMs = Date.now() - t0;
  assert.ok(openMs < 15_000, `opened in ${openMs} ms`);
  const domRows = await page.locator('.rows .row').count();
  assert.ok(domRows > 10 && domRows < 150, `${domRows} rows in the DOM`);
  assert.match(await page.locator('.col-tree .note').textContent(), /5001 spans, 5001 shown/);
  // Scroll through the whole trace in steps; each step repaints promptly.
  const steps = await page.evaluate(async () => {
    const v = document.querySelector('.rows');
    const times = [];
    for (let i = 1; i <= 20; ++i) {
      const s = performance.now();
      v.scrollTop = (v.scrollHeight * i) / 20;
      await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
      times.push(performance.now() - s);
    }
    return times;
  });
  const worst = Math.max(...steps);
  assert.ok(worst < 1500, `slowest scroll step ${worst.toFixed(0)} ms`);
  await page.locator('.rows .row .name', {hasText: big.last}).waitFor({timeout: 5_000});
  assert.ok(await page.locator('.rows .row').count() < 150);
  // Keyboard End/Home on the tree.
  await page.locator('.rows').focus();
  await page.keyboard.press('Home');
  await page.locator('aside.detail .detail-name', {hasText: 'big-batch'}).waitFor();
  console.log(`# big trace: opened in ${openMs} ms, ${domRows} DOM rows, slowest scroll step ${worst.toFixed(0)} ms`);
  await shot('big-trace');
});

test('a missing trace says so', async () => {
  await page.goto(`${server.url}/#/trace/ffffffffffffffffffffffffffffffff`);
  await page.locator('main .note.error').waitFor();
  assert.match(await page.locator('main .note.error').textContent(), /Could not load trace/);
});
