// wrapAnthropic with the real `@anthropic-ai/sdk` package against a local
// fake server; the spans are read back from the real spanvaultd.
import test from 'node:test';
import assert from 'node:assert/strict';
import {Daemon, daemonAvailability} from '../testlib/daemon.js';
import {FakeLLM, FIRST_TOKEN_DELAY_MS} from '../testlib/fakeopenai.js';
import {flush, init, shutdown, withSpan, wrapAnthropic} from '../src/index.js';

let Anthropic = null;
try {
  Anthropic = (await import('@anthropic-ai/sdk')).default;
} catch {
  // optional dev dependency
}
const avail = daemonAvailability();
const skip = avail.skip || (Anthropic === null ? '@anthropic-ai/sdk is not installed' : false);

let daemon;
let llm;
let client;

test.before(async () => {
  if (skip) return;
  daemon = await new Daemon(avail.bin).start();
  llm = await new FakeLLM().start();
  init({socket: daemon.socket, service: 'anthropic-test', otel: false});
  client = wrapAnthropic(new Anthropic({apiKey: 'sk-ant-test', baseURL: llm.url, maxRetries: 0}));
});

test.after(async () => {
  if (skip) return;
  await shutdown({timeoutMs: 1000});
  await llm.close();
  await daemon.close();
});

test('messages.create, non-streaming and streaming', {skip}, async () => {
  let traceId;
  let msg;
  let text = '';
  await withSpan('app', async s => {
    traceId = s.traceId;
    msg = await client.messages.create({model: 'claude-3-7-sonnet', max_tokens: 100, system: 'Be nice', messages: [{role: 'user', content: 'Hi'}]});
    const stream = await client.messages.create({model: 'claude-3-7-sonnet', max_tokens: 100, messages: [{role: 'user', content: 'Stream'}], stream: true});
    for await (const ev of stream) if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
  });
  assert.equal(msg.content[0].text, 'Hi from Claude');
  assert.equal(text, 'Hi streamed');
  assert.equal(await flush(), true);
  const spans = (await daemon.waitTrace(traceId, 3)).filter(s => s.name === 'anthropic.messages.create');
  assert.equal(spans.length, 2);
  const plain = spans.find(s => s.input.system === 'Be nice');
  assert.equal(plain.type, 'generation');
  assert.equal(plain.provider, 'anthropic');
  assert.equal(plain.model, 'claude-3-7-sonnet-20250219');
  assert.deepEqual(plain.input, {system: 'Be nice', messages: [{role: 'user', content: 'Hi'}]});
  assert.deepEqual(plain.output, [{type: 'text', text: 'Hi from Claude'}]);
  assert.deepEqual(plain.model_parameters, {max_tokens: 100});
  // Anthropic's convention: input_tokens excludes cache reads/writes; the
  // daemon adds them.
  assert.equal(plain.usage.input_tokens, 45);
  assert.equal(plain.usage.output_tokens, 6);
  assert.equal(plain.usage.cache_read_tokens, 30);
  assert.equal(plain.usage.cache_write_tokens, 5);
  const streamed = spans.find(s => s !== plain);
  assert.deepEqual(streamed.output, [
    {type: 'text', text: 'Hi streamed'},
    {type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {q: 'x'}},
  ]);
  assert.equal(streamed.usage.input_tokens, 45);
  assert.equal(streamed.usage.output_tokens, 6);
  assert.equal(streamed.usage.cache_read_tokens, 30);
  assert.ok(streamed.metrics.time_to_first_token >= (FIRST_TOKEN_DELAY_MS - 5) / 1000);
  assert.equal(streamed.attributes.stop_reason, 'tool_use');
});

test('an API error is recorded and rethrown', {skip}, async () => {
  let traceId;
  await assert.rejects(withSpan('app-err', async s => {
    traceId = s.traceId;
    await client.messages.create({model: 'bad-model', max_tokens: 1, messages: [{role: 'user', content: 'x'}]});
  }), e => e instanceof Anthropic.APIError && e.status === 400);
  assert.equal(await flush(), true);
  const spans = await daemon.waitTrace(traceId, 2);
  const s = spans.find(x => x.name === 'anthropic.messages.create');
  assert.equal(s.status, 'error');
  assert.equal(s.error.status, 400);
});
