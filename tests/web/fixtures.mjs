// The spans the browser test feeds: a multi-level RAG trace (agent →
// embedding, retrieval, a failing tool, an event, generations in parallel, a
// DAG span with two parents), a second turn of the same session, a live trace,
// and a 5,000-span trace.
import {randomBytes} from 'node:crypto';

const hex = n => randomBytes(n).toString('hex');
const iso = ms => new Date(ms).toISOString();

export const SESSION = `chat-${hex(3)}`;
export const QUESTION = 'What does spanvault do with my spans?';
export const ANSWER = 'It keeps them durably on this machine and forwards them upstream.';
export const HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

export function ragTrace(t0 = Date.now() - 120_000) {
  const trace_id = hex(16);
  const id = {root: hex(8), embed: hex(8), search: hex(8), rerank: hex(8), cache: hex(8), gen: hex(8), guard: hex(8), cite: hex(8)};
  const common = {trace_id, service: 'rag-api', environment: 'test', session_id: SESSION, user_id: 'u-7'};
  const s = (key, parent, name, type, from, to, extra = {}) =>
    ({...common, span_id: id[key], parent_span_id: parent ? id[parent] : null, name, type, start_time: iso(t0 + from), end_time: iso(t0 + to), ...extra});
  const spans = [
    s('root', null, 'rag-answer', 'agent', 0, 2310, {
      input: [{role: 'system', content: 'You answer questions about spanvault.'}, {role: 'user', content: QUESTION}],
      output: {role: 'assistant', content: ANSWER}, tags: ['beta']}),
    s('embed', 'root', 'embed-query', 'embedding', 10, 60, {model: 'text-embedding-3-small', provider: 'openai', usage: {input_tokens: 9}}),
    s('search', 'root', 'vector-search', 'retrieval', 60, 300, {
      input: {query: QUESTION, top_k: 3},
      output: [{id: 'doc-1', score: 0.91, text: 'spanvault buffers spans in RocksDB.'}, {id: 'doc-2', score: 0.84, text: 'It forwards to Langfuse.'}]}),
    s('rerank', 'root', 'rerank-docs', 'tool', 300, 420, {status: 'error', error: {type: 'TimeoutError', message: 'reranker timed out after 100 ms'}}),
    s('cache', 'root', 'cache-miss', 'event', 425, 425, {attributes: {cache: 'answers', key: 'q:1'}}),
    s('gen', 'root', 'generate-answer', 'generation', 450, 2200, {
      model: 'gpt-4o-mini', provider: 'openai', model_parameters: {temperature: 0.2, max_tokens: 512},
      usage: {prompt_tokens: 1200, completion_tokens: 180},
      input: [{role: 'system', content: 'Answer from the documents.'},
        {role: 'user', content: [{type: 'text', text: QUESTION}, {type: 'text', text: 'Documents: doc-1, doc-2'}]}],
      output: {choices: [{index: 0, message: {role: 'assistant', content: ANSWER}, finish_reason: 'stop'}]},
      scores: {faithfulness: 0.92}, metrics: {ttft_ms: 310}}),
    s('guard', 'root', 'safety-check', 'guardrail', 460, 900, {output: {flagged: false}}),
    s('cite', 'gen', 'attach-citations', 'chain', 2100, 2190, {span_parents: [id.gen, id.search], output: {citations: ['doc-1']}}),
  ];
  return {trace_id, id, spans};
}

export function secondTurn(t0 = Date.now() - 60_000) {
  const trace_id = hex(16);
  return {trace_id, spans: [{trace_id, span_id: hex(8), name: 'rag-answer', type: 'agent', service: 'rag-api', environment: 'test',
    session_id: SESSION, user_id: 'u-7', start_time: iso(t0), end_time: iso(t0 + 800),
    input: 'And can I see the spans in a browser?', output: `Yes: open the explorer. Literal markup stays text: ${HOSTILE}`}]};
}

export function liveTrace() {
  const trace_id = hex(16);
  const t0 = Date.now() - 1000;
  return {trace_id, spans: [{trace_id, span_id: hex(8), name: 'live-arrival', type: 'chain', service: 'rag-api', environment: 'test',
    start_time: iso(t0), end_time: iso(t0 + 250)}]};
}

// 1 root, 50 steps, 99 calls under each: 5,001 spans.
export function bigTrace(t0 = Date.now() - 300_000) {
  const trace_id = hex(16);
  const root = hex(8);
  const spans = [{trace_id, span_id: root, name: 'big-batch', type: 'agent', service: 'batch', start_time: iso(t0), end_time: iso(t0 + 100_000)}];
  for (let a = 0; a < 50; ++a) {
    const aid = hex(8);
    const as = t0 + a * 2000;
    spans.push({trace_id, span_id: aid, parent_span_id: root, name: `step-${a}`, type: 'chain', service: 'batch', start_time: iso(as), end_time: iso(as + 1990)});
    for (let k = 0; k < 99; ++k) {
      spans.push({trace_id, span_id: hex(8), parent_span_id: aid, name: `call-${a}-${k}`, type: k % 10 === 0 ? 'generation' : 'tool', service: 'batch',
        start_time: iso(as + k * 20), end_time: iso(as + k * 20 + 15)});
    }
  }
  return {trace_id, root, spans, last: 'call-49-98'};
}
