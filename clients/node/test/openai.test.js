// wrapOpenAI with the real `openai` npm package against a local fake server;
// the spans are read back from the real spanvaultd.
import test from 'node:test';
import assert from 'node:assert/strict';
import {Daemon, daemonAvailability} from '../testlib/daemon.js';
import {FakeLLM, FIRST_TOKEN_DELAY_MS} from '../testlib/fakeopenai.js';
import {flush, init, shutdown, stats, withSpan, wrapOpenAI} from '../src/index.js';

let OpenAI = null;
try {
  OpenAI = (await import('openai')).default;
} catch {
  // dev dependency not installed
}
const avail = daemonAvailability();
const skip = avail.skip || (OpenAI === null ? 'the openai package is not installed (npm install)' : false);

let daemon;
let llm;
let client;

test.before(async () => {
  if (skip) return;
  daemon = await new Daemon(avail.bin).start();
  llm = await new FakeLLM().start();
  init({socket: daemon.socket, service: 'openai-test', otel: false});
  client = wrapOpenAI(new OpenAI({apiKey: 'sk-test', baseURL: `${llm.url}/v1`, maxRetries: 0}));
});

test.after(async () => {
  if (skip) return;
  await shutdown({timeoutMs: 1000});
  await llm.close();
  await daemon.close();
});

// Runs fn inside a root span; returns the stored spans of that trace minus the root.
async function traceOf(n, fn) {
  let traceId;
  let rootId;
  await withSpan('app', async s => {
    traceId = s.traceId;
    rootId = s.spanId;
    await fn();
  });
  assert.equal(await flush(), true);
  const spans = await daemon.waitTrace(traceId, n + 1);
  const kids = spans.filter(s => s.span_id !== rootId);
  for (const k of kids) assert.equal(k.parent_span_id, rootId, `${k.name} is a child of the app span`);
  return kids;
}

test('chat.completions.create, non-streaming', {skip}, async () => {
  const messages = [{role: 'system', content: 'Be brief.'}, {role: 'user', content: 'Say hello'}];
  let got;
  const [s] = await traceOf(1, async () => {
    got = await client.chat.completions.create({model: 'gpt-4o-mini', messages, temperature: 0.2, max_tokens: 50});
  });
  assert.equal(got.choices[0].message.content, 'Hello there!');
  assert.equal(s.name, 'openai.chat.completions.create');
  assert.equal(s.type, 'generation');
  assert.equal(s.provider, 'openai');
  assert.equal(s.model, 'gpt-4o-mini-2024-07-18');
  assert.deepEqual(s.model_parameters, {temperature: 0.2, max_tokens: 50});
  assert.deepEqual(s.input, messages);
  assert.equal(s.output.content, 'Hello there!');
  assert.equal(s.output.role, 'assistant');
  assert.equal(s.usage.input_tokens, 12);
  assert.equal(s.usage.output_tokens, 3);
  assert.equal(s.usage.total_tokens, 15);
  assert.equal(s.usage.cache_read_tokens, 4);
  assert.equal(s.usage.reasoning_tokens, 1);
  assert.equal(s.status, 'ok');
  assert.equal(s.attributes?.finish_reason ?? s.metadata?.finish_reason, 'stop');
});

test('chat.completions.create, streaming with the usage chunk', {skip}, async () => {
  let text = '';
  let controllerSeen = false;
  const [s] = await traceOf(1, async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini', messages: [{role: 'user', content: 'stream please'}], stream: true, stream_options: {include_usage: true},
    });
    controllerSeen = stream.controller instanceof AbortController;
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  });
  assert.ok(controllerSeen, 'the Stream keeps its controller');
  assert.equal(text, 'Hello stream!');
  assert.equal(s.output.content, 'Hello stream!');
  assert.equal(s.model, 'gpt-4o-mini-2024-07-18');
  assert.equal(s.usage.input_tokens, 12);
  assert.equal(s.usage.output_tokens, 3);
  assert.equal(s.usage.cache_read_tokens, 4);
  assert.equal(s.usage.reasoning_tokens, 1);
  assert.deepEqual(s.model_parameters, {stream_options: {include_usage: true}});
  assert.equal(typeof s.metrics.time_to_first_token, 'number');
  assert.ok(s.metrics.time_to_first_token >= (FIRST_TOKEN_DELAY_MS - 5) / 1000, `ttft ${s.metrics.time_to_first_token}`);
  assert.ok(s.duration_ms >= s.metrics.time_to_first_token * 1000 - 1);
});

test('streaming tool calls are accumulated; a break ends the span', {skip}, async () => {
  const tools = [{type: 'function', function: {name: 'get_weather', parameters: {type: 'object', properties: {city: {type: 'string'}}}}}];
  const spans = await traceOf(2, async () => {
    const stream = await client.chat.completions.create({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'weather?'}], tools, stream: true});
    for await (const _ of stream) { /* drain */ }
    const stream2 = await client.chat.completions.create({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'cut'}], stream: true});
    for await (const _ of stream2) break;
  });
  const tool = spans.find(s => s.input[0].content === 'weather?');
  assert.deepEqual(tool.output.tool_calls, [{id: 'call_1', type: 'function', function: {name: 'get_weather', arguments: '{"city":"Paris"}'}}]);
  assert.equal(tool.output.content, null);
  assert.equal(tool.metadata?.finish_reason ?? tool.attributes?.finish_reason, 'tool_calls');
  const cut = spans.find(s => s.input[0].content === 'cut');
  assert.ok(cut, 'the broken-off stream still produced its span');
  assert.ok(cut.end_time);
});

test('toReadableStream and withResponse keep working', {skip}, async () => {
  await traceOf(2, async () => {
    const stream = await client.chat.completions.create({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'rs'}], stream: true});
    const rs = stream.toReadableStream();
    let n = 0;
    for await (const _ of rs) n++;
    assert.ok(n > 0);
    const {data, response, request_id: rid} = await client.chat.completions
      .create({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'wr'}]})
      .withResponse();
    assert.equal(data.choices[0].message.content, 'Hello there!');
    assert.equal(response.status, 200);
    assert.equal(rid, 'req_123');
  });
});

test('responses.create, non-streaming and streaming', {skip}, async () => {
  let r1;
  let deltas = '';
  const spans = await traceOf(2, async () => {
    r1 = await client.responses.create({model: 'gpt-4.1-mini', input: 'Say hello in French', instructions: 'Be brief', temperature: 0});
    const st = await client.responses.create({model: 'gpt-4.1-mini', input: [{role: 'user', content: 'stream it'}], stream: true});
    for await (const ev of st) if (ev.type === 'response.output_text.delta') deltas += ev.delta;
  });
  assert.equal(r1.output_text, 'Bonjour le monde');
  assert.equal(deltas, 'Bonjour le monde');
  for (const s of spans) {
    assert.equal(s.name, 'openai.responses.create');
    assert.equal(s.model, 'gpt-4.1-mini-2025-04-14');
    assert.equal(s.output, 'Bonjour le monde');
    assert.equal(s.usage.input_tokens, 20);
    assert.equal(s.usage.output_tokens, 7);
    assert.equal(s.usage.total_tokens, 27);
    assert.equal(s.usage.cache_read_tokens, 5);
    assert.equal(s.usage.reasoning_tokens, 2);
  }
  const plain = spans.find(s => s.input.instructions !== undefined);
  assert.deepEqual(plain.input, {instructions: 'Be brief', input: 'Say hello in French'});
  assert.deepEqual(plain.model_parameters, {temperature: 0});
  const streamed = spans.find(s => Array.isArray(s.input));
  assert.ok(streamed.metrics.time_to_first_token >= (FIRST_TOKEN_DELAY_MS - 5) / 1000);
});

test('embeddings.create and completions.create', {skip}, async () => {
  let emb;
  const spans = await traceOf(2, async () => {
    emb = await client.embeddings.create({model: 'text-embedding-3-small', input: ['a', 'b']});
    await client.completions.create({model: 'gpt-3.5-turbo-instruct', prompt: 'hello'});
  });
  assert.equal(emb.data.length, 2);
  assert.equal(emb.data[0].embedding.length, 3);
  const e = spans.find(s => s.name === 'openai.embeddings.create');
  assert.equal(e.type, 'embedding');
  assert.deepEqual(e.input, ['a', 'b']);
  assert.deepEqual(e.output, {embeddings: 2, dimensions: 3});
  assert.equal(e.usage.input_tokens, 5);
  const c = spans.find(s => s.name === 'openai.completions.create');
  assert.equal(c.input, 'hello');
  assert.equal(c.output, ' world');
});

test('an API error is recorded on the span and rethrown to the app', {skip}, async () => {
  let caught;
  const [s] = await traceOf(1, async () => {
    try {
      await client.chat.completions.create({model: 'bad-model', messages: [{role: 'user', content: 'x'}]});
    } catch (e) {
      caught = e;
    }
  });
  assert.ok(caught instanceof OpenAI.APIError, 'the SDK error class reaches the app');
  assert.equal(caught.status, 400);
  assert.equal(s.status, 'error');
  assert.equal(s.error.status, 400);
  assert.match(s.error.message, /bad-model/);
  assert.equal(s.error.type, 'BadRequestError');
  assert.equal(stats().rejected, 0);
});

test('the proxy reads other properties through', {skip}, () => {
  assert.equal(client.baseURL, `${llm.url}/v1`);
  assert.equal(typeof client.models.list, 'function');
  assert.equal(client.chat.completions.create, client.chat.completions.create, 'stable identity');
});

test('an error in the middle of a stream is recorded and reaches the app', {skip}, async () => {
  let caught;
  let text = '';
  const [s] = await traceOf(1, async () => {
    const stream = await client.chat.completions.create({model: 'stream-error', messages: [{role: 'user', content: 'x'}], stream: true});
    try {
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    } catch (e) {
      caught = e;
    }
  });
  assert.equal(text, 'partial');
  assert.ok(caught instanceof OpenAI.APIError);
  assert.equal(s.status, 'error');
  assert.match(s.error.message, /upstream overloaded/);
  assert.equal(s.output.content, 'partial');
  assert.equal(s.attributes.stream_failed, true);
});

test('chat.completions.parse is traced; captureInput/captureOutput off leave payloads out', {skip}, async () => {
  let parsed;
  const [p] = await traceOf(1, async () => {
    parsed = await client.chat.completions.parse({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'parse me'}]});
  });
  assert.equal(parsed.choices[0].message.content, 'Hello there!');
  assert.equal(p.name, 'openai.chat.completions.parse');
  assert.equal(p.output.content, 'Hello there!');
  init({socket: daemon.socket, service: 'openai-test', otel: false, captureInput: false, captureOutput: false});
  try {
    const [s] = await traceOf(1, async () => {
      await client.chat.completions.create({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'secret'}]});
    });
    assert.equal(s.input, undefined);
    assert.equal(s.output, undefined);
    assert.equal(s.usage.input_tokens, 12, 'usage is still recorded');
  } finally {
    init({socket: daemon.socket, service: 'openai-test', otel: false});
  }
});
