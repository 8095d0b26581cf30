// wrappers/anthropic.js — tracing for the official `@anthropic-ai/sdk` client.
//
// Contract: wrapAnthropic(client) returns a Proxy of the client in which
// messages.create (also beta.messages.create) records one generation span
// "anthropic.messages.create": provider "anthropic", model,
// model_parameters (the request minus system/messages/stream), input
// {system, messages}, output = the content blocks, usage as Anthropic reports
// it (input_tokens, output_tokens, cache_read_input_tokens,
// cache_creation_input_tokens: the daemon reads Anthropic's convention from
// these key names), metadata stop_reason. With stream: true the events are
// accumulated (message_start, content_block_start/delta — text_delta,
// input_json_delta, thinking_delta — message_delta usage and stop_reason),
// metrics.time_to_first_token is recorded, and the span ends when the
// stream ends, breaks or errors.
import {cleanUsage, elapsedSeconds, traceLLMCall, wrapClient} from './common.js';

function input(b) {
  return b.system !== undefined ? {system: b.system, messages: b.messages} : {messages: b.messages};
}

function recordMessage(v, span, co) {
  if (v === null || typeof v !== 'object') return;
  const f = {};
  if (typeof v.model === 'string') f.model = v.model;
  const u = cleanUsage(v.usage);
  if (u !== undefined) f.usage = u;
  if (co) f.output = v.content;
  const md = {};
  if (v.id !== undefined) md['anthropic.message_id'] = v.id;
  if (v.stop_reason != null) md.stop_reason = v.stop_reason;
  f.metadata = md;
  span.log(f);
}

function streamAccumulator(span, t0, co) {
  const blocks = [];
  const json = [];
  let usage = {};
  let model;
  let id;
  let stopReason;
  let ttft;
  let errorEvent;
  return {
    onItem(ev) {
      if (ev === null || typeof ev !== 'object') return;
      switch (ev.type) {
        case 'message_start':
          if (ev.message) {
            if (typeof ev.message.model === 'string') model = ev.message.model;
            id = ev.message.id;
            if (ev.message.usage) usage = {...usage, ...ev.message.usage};
          }
          break;
        case 'content_block_start':
          blocks[ev.index | 0] = {...(ev.content_block || {})};
          break;
        case 'content_block_delta': {
          const i = ev.index | 0;
          const d = ev.delta || {};
          if (ttft === undefined) ttft = elapsedSeconds(t0);
          let b = blocks[i];
          if (b === undefined) b = blocks[i] = {type: d.type === 'input_json_delta' ? 'tool_use' : 'text'};
          if (d.type === 'text_delta') b.text = (b.text || '') + (d.text || '');
          else if (d.type === 'input_json_delta') json[i] = (json[i] || '') + (d.partial_json || '');
          else if (d.type === 'thinking_delta') b.thinking = (b.thinking || '') + (d.thinking || '');
          else if (d.type === 'signature_delta') b.signature = (b.signature || '') + (d.signature || '');
          break;
        }
        case 'message_delta':
          if (ev.delta && ev.delta.stop_reason != null) stopReason = ev.delta.stop_reason;
          if (ev.usage) {
            for (const k of Object.keys(ev.usage)) if (ev.usage[k] != null) usage[k] = ev.usage[k];
          }
          break;
        case 'error':
          errorEvent = ev.error || ev;
          break;
        default:
      }
    },
    finish(failed) {
      for (let i = 0; i < blocks.length; i++) {
        if (blocks[i] === undefined || json[i] === undefined) continue;
        try {
          blocks[i].input = JSON.parse(json[i]);
        } catch {
          blocks[i].input = json[i];
        }
      }
      const f = {};
      if (model !== undefined) f.model = model;
      const u = cleanUsage(usage);
      if (u !== undefined) f.usage = u;
      if (co) f.output = blocks.filter(Boolean);
      if (ttft !== undefined) f.metrics = {time_to_first_token: ttft};
      const md = {stream: true};
      if (id !== undefined) md['anthropic.message_id'] = id;
      if (stopReason !== undefined) md.stop_reason = stopReason;
      if (failed) md.stream_failed = true;
      f.metadata = md;
      if (errorEvent !== undefined) f.error = {type: errorEvent.type || 'error', message: errorEvent.message || 'stream error'};
      span.log(f);
    },
  };
}

const SPEC = {
  name: 'anthropic.messages.create',
  type: 'generation',
  provider: 'anthropic',
  exclude: ['system', 'messages', 'stream', 'model'],
  input,
  onResult: recordMessage,
  streamAccumulator,
};

const handler = (orig, target, args) => traceLLMCall(SPEC, orig, target, args);
const HANDLERS = {'messages.create': handler, 'beta.messages.create': handler};

export function wrapAnthropic(client) {
  try {
    return wrapClient(client, HANDLERS);
  } catch {
    return client;
  }
}
