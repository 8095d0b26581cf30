// Type-checked (not run) by test/types.test.js: `tsc --noEmit -p test/types`.
import OpenAI from 'openai';
import {
  currentSpan, extractTraceparent, flush, init, injectTraceparent, resolveSocket, shutdown, startSpan, stats,
  traced, withSpan, wrapOpenAI, type Span, type Stats,
} from 'spanvault';

init({service: 'svc', environment: 'dev', maxQueueSpans: 1000, otel: false});

const add = traced((a: number, b: number) => a + b, {name: 'add', type: 'tool'});
const n: number = add(1, 2);

const fetchDoc = traced(async (id: string) => ({id, text: 'x'}));
const p: Promise<{id: string; text: string}> = fetchDoc('1');

async function main(): Promise<void> {
  const r: number = await withSpan('root', {sessionId: 's'}, async (span: Span) => {
    span.log({input: 'q', metadata: {a: 1}, usage: {input_tokens: 3}, modelParameters: {temperature: 0}});
    span.setAttributes({k: 'v'});
    return 42;
  });
  const s = startSpan('manual', {type: 'generation', parent: extractTraceparent({traceparent: 'x'}), startTime: Date.now()});
  s.log({output: {ok: true}, tags: ['t']}).end({endTime: new Date()});
  const tp: string = s.traceparent();
  const headers = injectTraceparent({accept: 'json'});
  const cur = currentSpan();
  cur.log({error: new Error('x')});
  const ok: boolean = await flush({timeoutMs: 100});
  const st: Stats = stats();
  const path: string = resolveSocket({env: {}, uid: 1000});
  const client = wrapOpenAI(new OpenAI({apiKey: 'k'}));
  const c = await client.chat.completions.create({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'hi'}]});
  const text: string | null = c.choices[0].message.content;
  await shutdown();
  void [r, tp, headers, ok, st, path, text, n, p];
}
void main;
