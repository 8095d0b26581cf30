// testlib/fakeopenai.js — a local OpenAI- and Anthropic-compatible HTTP server
// for the wrapper tests (not a test file itself). Answers
// POST /v1/chat/completions, /v1/completions, /v1/responses, /v1/embeddings
// and /v1/messages, streaming (SSE) when the body asks, with fixed content and
// usage; model "bad-model" gets HTTP 400. Records the request bodies.
import http from 'node:http';
import {setTimeout as sleep} from 'node:timers/promises';

export const FIRST_TOKEN_DELAY_MS = 30;

const CHAT_USAGE = {
  prompt_tokens: 12, completion_tokens: 3, total_tokens: 15,
  prompt_tokens_details: {cached_tokens: 4, audio_tokens: 0},
  completion_tokens_details: {reasoning_tokens: 1, audio_tokens: 0},
};
const RESP_USAGE = {
  input_tokens: 20, input_tokens_details: {cached_tokens: 5},
  output_tokens: 7, output_tokens_details: {reasoning_tokens: 2}, total_tokens: 27,
};
const ANTHROPIC_USAGE = {input_tokens: 10, output_tokens: 6, cache_read_input_tokens: 30, cache_creation_input_tokens: 5};

function response(model, text) {
  return {
    id: 'resp_1', object: 'response', created_at: 1700000000, model, status: 'completed',
    output: [{type: 'message', id: 'msg_1', role: 'assistant', status: 'completed',
      content: [{type: 'output_text', text, annotations: []}]}],
    usage: RESP_USAGE,
  };
}

async function sse(res, events, named = false) {
  res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-cache'});
  let first = true;
  for (const e of events) {
    if (first) {
      first = false;
    } else {
      await sleep(2);
    }
    if (e === '[DONE]') res.write('data: [DONE]\n\n');
    else res.write((named ? `event: ${e.type}\n` : '') + `data: ${JSON.stringify(e)}\n\n`);
    if (e.__delay) await sleep(e.__delay);
  }
  res.end();
}

export class FakeLLM {
  constructor() {
    this.requests = [];
    this.server = http.createServer((req, res) => this._handle(req, res));
  }

  start() {
    return new Promise(resolve => this.server.listen(0, '127.0.0.1', () => {
      this.url = `http://127.0.0.1:${this.server.address().port}`;
      resolve(this);
    }));
  }

  close() {
    this.server.closeAllConnections?.();
    return new Promise(r => this.server.close(() => r()));
  }

  async _handle(req, res) {
    let raw = '';
    for await (const c of req) raw += c;
    const body = raw ? JSON.parse(raw) : {};
    this.requests.push({path: req.url, body, headers: req.headers});
    if (body.model === 'bad-model') {
      res.writeHead(400, {'content-type': 'application/json'});
      res.end(JSON.stringify({error: {message: 'The model `bad-model` does not exist', type: 'invalid_request_error', param: 'model', code: 'model_not_found'}}));
      return;
    }
    const path = req.url.replace(/\?.*$/, '');
    const model = body.model + '-2024-07-18';
    if (path === '/v1/chat/completions') {
      if (!body.stream) {
        res.writeHead(200, {'content-type': 'application/json', 'x-request-id': 'req_123'});
        res.end(JSON.stringify({
          id: 'chatcmpl-1', object: 'chat.completion', created: 1700000000, model,
          choices: [{index: 0, message: {role: 'assistant', content: 'Hello there!', refusal: null}, finish_reason: 'stop', logprobs: null}],
          usage: CHAT_USAGE,
        }));
        return;
      }
      const base = {id: 'chatcmpl-2', object: 'chat.completion.chunk', created: 1700000000, model};
      const events = [{...base, choices: [{index: 0, delta: {role: 'assistant', content: ''}, finish_reason: null}], __delay: FIRST_TOKEN_DELAY_MS}];
      if (body.model === 'stream-error') {
        res.writeHead(200, {'content-type': 'text/event-stream'});
        res.write(`data: ${JSON.stringify({...base, choices: [{index: 0, delta: {role: 'assistant', content: 'partial'}, finish_reason: null}]})}\n\n`);
        await sleep(5);
        res.write(`data: ${JSON.stringify({error: {message: 'upstream overloaded', type: 'server_error'}})}\n\n`);
        res.end();
        return;
      }
      if (body.tools) {
        events.push({...base, choices: [{index: 0, delta: {tool_calls: [{index: 0, id: 'call_1', type: 'function', function: {name: 'get_weather', arguments: ''}}]}, finish_reason: null}]});
        events.push({...base, choices: [{index: 0, delta: {tool_calls: [{index: 0, function: {arguments: '{"city":'}}]}, finish_reason: null}]});
        events.push({...base, choices: [{index: 0, delta: {tool_calls: [{index: 0, function: {arguments: '"Paris"}'}}]}, finish_reason: null}]});
        events.push({...base, choices: [{index: 0, delta: {}, finish_reason: 'tool_calls'}]});
      } else {
        for (const t of ['Hel', 'lo ', 'stream!']) events.push({...base, choices: [{index: 0, delta: {content: t}, finish_reason: null}]});
        events.push({...base, choices: [{index: 0, delta: {}, finish_reason: 'stop'}]});
      }
      if (body.stream_options?.include_usage) events.push({...base, choices: [], usage: CHAT_USAGE});
      events.push('[DONE]');
      for (const e of events) if (typeof e === 'object') Object.defineProperty(e, '__delay', {enumerable: false, value: e.__delay});
      await sse(res, events);
      return;
    }
    if (path === '/v1/completions') {
      res.writeHead(200, {'content-type': 'application/json'});
      res.end(JSON.stringify({id: 'cmpl-1', object: 'text_completion', model, choices: [{index: 0, text: ' world', finish_reason: 'stop'}], usage: {prompt_tokens: 2, completion_tokens: 1, total_tokens: 3}}));
      return;
    }
    if (path === '/v1/responses') {
      const full = response(body.model + '-2025-04-14', 'Bonjour le monde');
      if (!body.stream) {
        res.writeHead(200, {'content-type': 'application/json'});
        res.end(JSON.stringify(full));
        return;
      }
      const ev = [
        {type: 'response.created', sequence_number: 0, response: {...full, status: 'in_progress', output: [], usage: null}},
        {type: 'response.output_text.delta', sequence_number: 1, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Bonjour '},
        {type: 'response.output_text.delta', sequence_number: 2, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'le monde'},
        {type: 'response.completed', sequence_number: 3, response: full},
      ];
      Object.defineProperty(ev[0], '__delay', {enumerable: false, value: FIRST_TOKEN_DELAY_MS});
      await sse(res, ev, true);
      return;
    }
    if (path === '/v1/embeddings') {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      const vec = [0.25, -0.5, 0.75];
      const emb = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vec).buffer).toString('base64') : vec;
      res.writeHead(200, {'content-type': 'application/json'});
      res.end(JSON.stringify({object: 'list', model: body.model, data: inputs.map((_, i) => ({object: 'embedding', index: i, embedding: emb})), usage: {prompt_tokens: 5, total_tokens: 5}}));
      return;
    }
    if (path === '/v1/messages') {
      const msgModel = body.model + '-20250219';
      if (!body.stream) {
        res.writeHead(200, {'content-type': 'application/json'});
        res.end(JSON.stringify({
          id: 'msg_01', type: 'message', role: 'assistant', model: msgModel,
          content: [{type: 'text', text: 'Hi from Claude'}], stop_reason: 'end_turn', stop_sequence: null,
          usage: {...ANTHROPIC_USAGE, service_tier: 'standard', server_tool_use: null},
        }));
        return;
      }
      const ev = [
        {type: 'message_start', message: {id: 'msg_02', type: 'message', role: 'assistant', model: msgModel, content: [], stop_reason: null, usage: {input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 30, cache_creation_input_tokens: 5}}},
        {type: 'content_block_start', index: 0, content_block: {type: 'text', text: ''}},
        {type: 'content_block_delta', index: 0, delta: {type: 'text_delta', text: 'Hi '}},
        {type: 'content_block_delta', index: 0, delta: {type: 'text_delta', text: 'streamed'}},
        {type: 'content_block_stop', index: 0},
        {type: 'content_block_start', index: 1, content_block: {type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {}}},
        {type: 'content_block_delta', index: 1, delta: {type: 'input_json_delta', partial_json: '{"q": '}},
        {type: 'content_block_delta', index: 1, delta: {type: 'input_json_delta', partial_json: '"x"}'}},
        {type: 'content_block_stop', index: 1},
        {type: 'message_delta', delta: {stop_reason: 'tool_use', stop_sequence: null}, usage: {output_tokens: 6}},
        {type: 'message_stop'},
      ];
      Object.defineProperty(ev[1], '__delay', {enumerable: false, value: FIRST_TOKEN_DELAY_MS});
      await sse(res, ev, true);
      return;
    }
    res.writeHead(404, {'content-type': 'application/json'});
    res.end(JSON.stringify({error: {message: 'not found'}}));
  }
}
