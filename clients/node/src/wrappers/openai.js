// wrappers/openai.js — tracing for the official `openai` npm client.
//
// Contract: wrapOpenAI(client) returns a Proxy of the client (duck-typed;
// `openai` is not a dependency) in which chat.completions.create,
// completions.create, responses.create and embeddings.create (and the
// chat.completions.parse / responses.parse helpers) each record one span: type generation (embedding for embeddings), name
// "openai.<path>", provider "openai", model (the response's when known),
// model_parameters (the request minus messages/input/prompt/stream),
// input (messages / input / prompt), output (the assistant message(s) with
// tool_calls; Responses: output_text, or the output items when there are
// function calls; embeddings: a count and dimensions, not the vectors), usage
// as OpenAI reports it (Responses usage mapped to the canonical keys).
// Streams (stream: true) stay async-iterable, accumulate deltas and the
// usage chunk, record metrics.time_to_first_token (seconds) and end the span
// when the stream ends, breaks or errors.
import {cleanUsage, elapsedSeconds, traceLLMCall, wrapClient} from './common.js';

const CHAT_EXCLUDE = ['messages', 'stream', 'model'];

function chatOutput(choices) {
  if (!Array.isArray(choices)) return undefined;
  const msgs = choices.map(c => c.message !== undefined ? c.message : c.text);
  return msgs.length === 1 ? msgs[0] : msgs;
}

function finishReasons(choices) {
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const r = choices.map(c => c.finish_reason).filter(x => x != null);
  return r.length === 0 ? undefined : r.length === 1 ? r[0] : r;
}

function recordChat(v, span, co) {
  if (v === null || typeof v !== 'object') return;
  const f = {};
  if (typeof v.model === 'string') f.model = v.model;
  const u = cleanUsage(v.usage);
  if (u !== undefined) f.usage = u;
  if (co) f.output = chatOutput(v.choices);
  const md = {};
  if (v.id !== undefined) md['openai.response_id'] = v.id;
  const fr = finishReasons(v.choices);
  if (fr !== undefined) md.finish_reason = fr;
  if (v.system_fingerprint) md['openai.system_fingerprint'] = v.system_fingerprint;
  f.metadata = md;
  span.log(f);
}

// Accumulates chat.completions / completions stream chunks.
function chatAccumulator(span, t0, co, legacy) {
  const choices = []; // index → {role, content, tool_calls, refusal, finish_reason}
  let usage;
  let model;
  let id;
  let ttft;
  return {
    onItem(chunk) {
      if (chunk === null || typeof chunk !== 'object') return;
      if (typeof chunk.model === 'string' && chunk.model) model = chunk.model;
      if (chunk.id !== undefined) id = chunk.id;
      if (chunk.usage) usage = chunk.usage;
      if (!Array.isArray(chunk.choices)) return;
      for (const ch of chunk.choices) {
        const i = ch.index | 0;
        let acc = choices[i];
        if (acc === undefined) acc = choices[i] = {role: 'assistant', content: '', tool_calls: [], finish_reason: null};
        if (ch.finish_reason) acc.finish_reason = ch.finish_reason;
        if (legacy) {
          if (typeof ch.text === 'string' && ch.text !== '') {
            if (ttft === undefined) ttft = elapsedSeconds(t0);
            acc.content += ch.text;
          }
          continue;
        }
        const d = ch.delta;
        if (!d) continue;
        if (d.role) acc.role = d.role;
        if (typeof d.content === 'string' && d.content !== '') {
          if (ttft === undefined) ttft = elapsedSeconds(t0);
          acc.content += d.content;
        }
        if (typeof d.refusal === 'string' && d.refusal !== '') {
          if (ttft === undefined) ttft = elapsedSeconds(t0);
          acc.refusal = (acc.refusal || '') + d.refusal;
        }
        if (Array.isArray(d.tool_calls)) {
          if (ttft === undefined) ttft = elapsedSeconds(t0);
          for (const tc of d.tool_calls) {
            const j = tc.index | 0;
            let t = acc.tool_calls[j];
            if (t === undefined) t = acc.tool_calls[j] = {id: undefined, type: 'function', function: {name: '', arguments: ''}};
            if (tc.id) t.id = tc.id;
            if (tc.type) t.type = tc.type;
            if (tc.function) {
              if (tc.function.name) t.function.name += tc.function.name;
              if (tc.function.arguments) t.function.arguments += tc.function.arguments;
            }
          }
        }
      }
    },
    finish(failed) {
      const f = {};
      if (model !== undefined) f.model = model;
      const u = cleanUsage(usage);
      if (u !== undefined) f.usage = u;
      if (ttft !== undefined) f.metrics = {time_to_first_token: ttft};
      const md = {stream: true};
      if (id !== undefined) md['openai.response_id'] = id;
      const fr = finishReasons(choices.filter(Boolean));
      if (fr !== undefined) md.finish_reason = fr;
      if (failed) md.stream_failed = true;
      f.metadata = md;
      if (co) {
        const msgs = choices.filter(Boolean).map(c => {
          if (legacy) return c.content;
          const m = {role: c.role, content: c.content === '' && c.tool_calls.length > 0 ? null : c.content};
          if (c.refusal !== undefined) m.refusal = c.refusal;
          const tcs = c.tool_calls.filter(Boolean);
          if (tcs.length > 0) m.tool_calls = tcs;
          return m;
        });
        f.output = msgs.length === 1 ? msgs[0] : msgs;
      }
      span.log(f);
    },
  };
}

/** Responses API usage → canonical keys. */
export function responsesUsage(u) {
  if (u === null || typeof u !== 'object') return undefined;
  const o = {};
  const num = v => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (num(u.input_tokens)) o.input_tokens = u.input_tokens;
  if (num(u.output_tokens)) o.output_tokens = u.output_tokens;
  if (num(u.total_tokens)) o.total_tokens = u.total_tokens;
  if (u.input_tokens_details && num(u.input_tokens_details.cached_tokens)) {
    o.cache_read_tokens = u.input_tokens_details.cached_tokens;
  }
  if (u.output_tokens_details && num(u.output_tokens_details.reasoning_tokens)) {
    o.reasoning_tokens = u.output_tokens_details.reasoning_tokens;
  }
  return Object.keys(o).length > 0 ? o : undefined;
}

function outputText(resp) {
  if (typeof resp.output_text === 'string') return resp.output_text;
  if (!Array.isArray(resp.output)) return undefined;
  let s = '';
  for (const item of resp.output) {
    if (item && item.type === 'message' && Array.isArray(item.content)) {
      for (const c of item.content) if (c && c.type === 'output_text' && typeof c.text === 'string') s += c.text;
    }
  }
  return s;
}

function responsesOutput(resp) {
  const items = Array.isArray(resp.output) ? resp.output : [];
  const onlyMessages = items.every(i => i && (i.type === 'message' || i.type === 'reasoning'));
  const text = outputText(resp);
  if (onlyMessages && typeof text === 'string') return text;
  return items;
}

function recordResponse(v, span, co) {
  if (v === null || typeof v !== 'object') return;
  const f = {};
  if (typeof v.model === 'string') f.model = v.model;
  const u = responsesUsage(v.usage);
  if (u !== undefined) f.usage = u;
  if (co) f.output = responsesOutput(v);
  const md = {};
  if (v.id !== undefined) md['openai.response_id'] = v.id;
  if (v.status !== undefined) md['openai.response_status'] = v.status;
  f.metadata = md;
  if (v.error) f.error = {type: v.error.code || 'response_error', message: v.error.message || String(v.error)};
  span.log(f);
}

function responsesAccumulator(span, t0, co) {
  let text = '';
  let final;
  let ttft;
  let errorEvent;
  return {
    onItem(ev) {
      if (ev === null || typeof ev !== 'object') return;
      switch (ev.type) {
        case 'response.output_text.delta':
          if (ttft === undefined) ttft = elapsedSeconds(t0);
          if (typeof ev.delta === 'string') text += ev.delta;
          break;
        case 'response.function_call_arguments.delta':
        case 'response.refusal.delta':
          if (ttft === undefined) ttft = elapsedSeconds(t0);
          break;
        case 'response.completed':
        case 'response.incomplete':
        case 'response.failed':
          if (ev.response) final = ev.response;
          break;
        case 'error':
          errorEvent = ev;
          break;
        default:
      }
    },
    finish(failed) {
      if (final !== undefined) recordResponse(final, span, co);
      else if (co) span.log({output: text});
      const md = {stream: true};
      if (failed) md.stream_failed = true;
      const f = {metadata: md};
      if (ttft !== undefined) f.metrics = {time_to_first_token: ttft};
      if (errorEvent !== undefined) f.error = {type: errorEvent.code || 'error', message: errorEvent.message || 'stream error'};
      span.log(f);
    },
  };
}

function recordEmbedding(v, span) {
  if (v === null || typeof v !== 'object') return;
  const f = {};
  if (typeof v.model === 'string') f.model = v.model;
  const u = cleanUsage(v.usage);
  if (u !== undefined) f.usage = u;
  if (Array.isArray(v.data)) {
    const first = v.data[0] && v.data[0].embedding;
    f.output = {embeddings: v.data.length};
    if (Array.isArray(first)) f.output.dimensions = first.length;
  }
  span.log(f);
}

const SPECS = {
  'chat.completions.create': {
    name: 'openai.chat.completions.create',
    type: 'generation',
    provider: 'openai',
    exclude: CHAT_EXCLUDE,
    input: b => b.messages,
    onResult: recordChat,
    streamAccumulator: (span, t0, co) => chatAccumulator(span, t0, co, false),
  },
  'completions.create': {
    name: 'openai.completions.create',
    type: 'generation',
    provider: 'openai',
    exclude: ['prompt', 'stream', 'model'],
    input: b => b.prompt,
    onResult: recordChat,
    streamAccumulator: (span, t0, co) => chatAccumulator(span, t0, co, true),
  },
  'responses.create': {
    name: 'openai.responses.create',
    type: 'generation',
    provider: 'openai',
    exclude: ['input', 'instructions', 'stream', 'model'],
    input: b => (b.instructions !== undefined && b.instructions !== null
      ? {instructions: b.instructions, input: b.input}
      : b.input),
    onResult: recordResponse,
    streamAccumulator: responsesAccumulator,
  },
  'embeddings.create': {
    name: 'openai.embeddings.create',
    type: 'embedding',
    provider: 'openai',
    exclude: ['input', 'model'],
    input: b => b.input,
    onResult: recordEmbedding,
    streamAccumulator: () => ({onItem() {}, finish() {}}),
  },
};

// Structured-output helpers answer like create (no streaming).
SPECS['chat.completions.parse'] = {...SPECS['chat.completions.create'], name: 'openai.chat.completions.parse'};
SPECS['beta.chat.completions.parse'] = {...SPECS['chat.completions.create'], name: 'openai.chat.completions.parse'};
SPECS['responses.parse'] = {...SPECS['responses.create'], name: 'openai.responses.parse'};

const HANDLERS = {};
for (const [path, spec] of Object.entries(SPECS)) {
  HANDLERS[path] = (orig, target, args) => traceLLMCall(spec, orig, target, args);
}

export function wrapOpenAI(client) {
  try {
    return wrapClient(client, HANDLERS);
  } catch {
    return client;
  }
}
