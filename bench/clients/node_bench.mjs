// node_bench.mjs — benchmark of the spanvault Node.js client.
//
// Usage: node bench/clients/node_bench.mjs PATH/TO/spanvaultd [N=200000]
// Starts a daemon in a temp dir, then measures:
//   (baseline) JSON.stringify alone of the same span, for the machine's speed;
//   (a) µs per span of startSpan(...).log({input, output, usage, model}).end()
//       (create + log + serialise + enqueue, no I/O on the caller's stack),
//       median of 5 runs of N spans;
//   (a') the same while the event loop turns every 4096 spans (the writer
//       drains meanwhile), timing only the synchronous span work;
//   (b) end-to-end throughput: N spans produced, then flush() === true,
//       spans/s (median of 3);
//   (c) µs per span with withSpan nesting (outer + inner per iteration),
//       median of 5.
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const client = path.resolve(here, '../../clients/node');
const sv = await import(path.join(client, 'src/index.js'));
const {Daemon} = await import(path.join(client, 'testlib/daemon.js'));

const bin = process.argv[2];
const N = Number(process.argv[3] || 200000);
if (!bin) {
  console.error('usage: node bench/clients/node_bench.mjs PATH/TO/spanvaultd [N]');
  process.exit(2);
}

const daemon = await new Daemon(path.resolve(bin)).start();
sv.init({
  socket: daemon.socket,
  service: 'node-bench',
  maxQueueSpans: N * 2 + 10,
  maxQueueBytes: 1024 * 1024 * 1024,
  otel: false,
});

// ~300 bytes of realistic fields.
const INPUT = [{role: 'user', content: 'What is the capital of France? Answer in one word.'}];
const OUTPUT = {role: 'assistant', content: 'Paris.'};
const USAGE = {input_tokens: 21, output_tokens: 2};
const MODEL = 'gpt-4o-mini';

const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => performance.now();

async function drain() {
  const ok = await sv.flush({timeoutMs: 120000});
  if (!ok) throw new Error(`flush failed: ${JSON.stringify(sv.stats())}`);
}

// Warm-up.
for (let i = 0; i < 20000; i++) sv.startSpan('warm', {type: 'generation'}).log({input: INPUT, output: OUTPUT, usage: USAGE, model: MODEL}).end();
await drain();

// (baseline) JSON.stringify alone of the same wire object, to tell how
// fast this machine is right now.
const wire = sv.startSpan('llm-call', {type: 'generation'}).log({input: INPUT, output: OUTPUT, usage: USAGE, model: MODEL}).toJSON();
wire.end_time = wire.start_time + 0.001234;
const base = [];
for (let run = 0; run < 5; run++) {
  const t = now();
  let len = 0;
  for (let i = 0; i < N; i++) len += JSON.stringify(wire).length;
  base.push(((now() - t) * 1000) / N);
  if (len === 0) console.log('');
}

// (a)
const a = [];
for (let run = 0; run < 5; run++) {
  const t = now();
  for (let i = 0; i < N; i++) {
    sv.startSpan('llm-call', {type: 'generation'}).log({input: INPUT, output: OUTPUT, usage: USAGE, model: MODEL}).end();
  }
  a.push(((now() - t) * 1000) / N);
  await drain();
}
const sample = sv.startSpan('llm-call', {type: 'generation'}).log({input: INPUT, output: OUTPUT, usage: USAGE, model: MODEL});
const lineBytes = Buffer.byteLength(JSON.stringify(sample.toJSON()));
sample.end();
await drain();

// (a') the same, but yielding to the event loop every 4096 spans so the
// writer drains the queue meanwhile (as in an app); only the synchronous
// span work is timed.
const a2 = [];
for (let run = 0; run < 5; run++) {
  let spent = 0;
  for (let done = 0; done < N;) {
    const n = Math.min(4096, N - done);
    const t = now();
    for (let i = 0; i < n; i++) {
      sv.startSpan('llm-call', {type: 'generation'}).log({input: INPUT, output: OUTPUT, usage: USAGE, model: MODEL}).end();
    }
    spent += now() - t;
    done += n;
    await new Promise(r => setImmediate(r));
  }
  a2.push((spent * 1000) / N);
  await drain();
}

// (b)
const b = [];
for (let run = 0; run < 3; run++) {
  const t = now();
  for (let i = 0; i < N; i++) {
    sv.startSpan('llm-call', {type: 'generation'}).log({input: INPUT, output: OUTPUT, usage: USAGE, model: MODEL}).end();
    if ((i & 4095) === 4095) await new Promise(r => setImmediate(r)); // let the writer run, as an app would
  }
  await drain();
  b.push(N / ((now() - t) / 1000));
}

// (c)
const c = [];
const M = Math.floor(N / 2);
for (let run = 0; run < 5; run++) {
  const t = now();
  for (let i = 0; i < M; i++) {
    sv.withSpan('outer', () => sv.withSpan('inner', {type: 'tool'}, s => s.log({input: INPUT, output: OUTPUT})));
  }
  c.push(((now() - t) * 1000) / (2 * M));
  await drain();
}

const st = sv.stats();
await sv.shutdown();
await daemon.close();

const fmt = (x, d = 2) => x.toFixed(d);
const os = await import('node:os');
console.log(`spanvault node client benchmark — node ${process.version}, N=${N}, span line ≈ ${lineBytes} bytes, ${os.cpus().length} CPUs, load average ${os.loadavg().map(x => x.toFixed(2)).join(' ')}`);
console.log('| measure | median | runs |');
console.log('|---|---|---|');
console.log(`| (baseline) JSON.stringify of the same span alone, µs | ${fmt(median(base))} | ${base.map(x => fmt(x)).join(', ')} |`);
console.log(`| (a) startSpan().log().end(), µs/span | ${fmt(median(a))} | ${a.map(x => fmt(x)).join(', ')} |`);
console.log(`| (a') same, event loop turning every 4096 spans (sync part), µs/span | ${fmt(median(a2))} | ${a2.map(x => fmt(x)).join(', ')} |`);
console.log(`| (b) end-to-end to spanvaultd incl. flush(), spans/s | ${Math.round(median(b))} | ${b.map(x => Math.round(x)).join(', ')} |`);
console.log(`| (c) withSpan nested (2 spans/iter), µs/span | ${fmt(median(c))} | ${c.map(x => fmt(x)).join(', ')} |`);
console.log(`client stats: enqueued=${st.enqueued} confirmed=${st.confirmed} rejected=${st.rejected} dropped=${st.droppedQueueFull} reconnects=${st.reconnects}`);
