// With the real @opentelemetry/api (and its AsyncLocalStorage context
// manager), a span started outside any spanvault span joins OTel's active
// span; with otel: false it does not. Skipped when the packages are absent.
import test from 'node:test';
import assert from 'node:assert/strict';
import {createRequire} from 'node:module';
import {FakeServer} from '../testlib/fakeserver.js';
import {flush, init, shutdown, startSpan, withSpan} from '../src/index.js';

let api = null;
let CM = null;
try {
  const req = createRequire(process.cwd() + '/');
  api = req('@opentelemetry/api');
  CM = req('@opentelemetry/context-async-hooks').AsyncLocalStorageContextManager;
} catch {
  // dev dependencies not installed
}
const skip = api === null ? '@opentelemetry/api not installed' : false;

test('spans join the active OpenTelemetry trace', {skip}, async () => {
  const server = await new FakeServer().start();
  const cm = new CM().enable();
  api.context.setGlobalContextManager(cm);
  try {
    init({socket: server.path, otel: true});
    const otelSpan = api.trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: api.TraceFlags.SAMPLED,
    });
    await api.context.with(api.trace.setSpan(api.context.active(), otelSpan), async () => {
      await new Promise(r => setTimeout(r, 1));
      await withSpan('joined', async span => {
        startSpan('grandchild').end();
        // What OTel instrumentation inside the span sees as its parent:
        const seen = api.trace.getActiveSpan().spanContext();
        assert.deepEqual([seen.traceId, seen.spanId], [span.traceId, span.spanId]);
        await new Promise(r => setTimeout(r, 1));
        assert.equal(api.trace.getActiveSpan().spanContext().spanId, span.spanId);
      });
      assert.equal(api.trace.getActiveSpan().spanContext().spanId, 'b7ad6b7169203331');
    });
    startSpan('outside').end();
    init({socket: server.path, otel: false});
    api.context.with(api.trace.setSpan(api.context.active(), otelSpan), () => startSpan('otel-off').end());
    assert.equal(await flush(), true);
    const by = n => server.spans.find(s => s.name === n);
    assert.equal(by('joined').trace_id, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(by('joined').parent_span_id, 'b7ad6b7169203331');
    assert.equal(by('grandchild').parent_span_id, by('joined').span_id);
    assert.equal(by('outside').parent_span_id, null);
    assert.notEqual(by('outside').trace_id, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(by('otel-off').parent_span_id, null);
  } finally {
    api.context.disable();
    await shutdown({timeoutMs: 100});
    await server.close();
  }
});
