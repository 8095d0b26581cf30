// The plain OpenTelemetry JS SDK exporting to spanvaultd over OTLP/HTTP.
//   node otel_sdk.mjs http://127.0.0.1:PORT json|proto RUN_ID
// Emits one trace: agent (root) → retrieve (tool) and chat gpt-4o-mini (a
// GenAI generation with usage), plus a failed span with an exception event;
// flushes; prints {"trace_id", "spans": {name: span_id}, "packages": {...}}.
import { readFileSync } from "node:fs";
import { context, trace, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";

const [base, protocol, run] = process.argv.slice(2);
const url = `${base}/v1/traces`;
const exporter =
  protocol === "proto" ? new ProtoExporter({ url, compression: "gzip" }) : new JsonExporter({ url });
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": `e2e-${protocol}`, "deployment.environment.name": "test" }),
  spanProcessors: [new BatchSpanProcessor(exporter)],
});
provider.register();
const tracer = trace.getTracer("spanvault-e2e", "1.0.0");

const ids = {};
const record = (name, span) => (ids[name] = span.spanContext().spanId);

const root = tracer.startSpan(`agent ${run}`, { kind: SpanKind.SERVER, attributes: { "user.id": "u-1" } });
record("agent", root);
const inRoot = trace.setSpan(context.active(), root);
const tool = tracer.startSpan(
  "retrieve",
  { attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search" } },
  inRoot,
);
record("retrieve", tool);
tool.end();
const chat = tracer.startSpan(
  "chat gpt-4o-mini",
  {
    kind: SpanKind.CLIENT,
    attributes: {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o-mini",
      "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
      "gen_ai.request.temperature": 0.2,
      "gen_ai.request.max_tokens": 512,
      "gen_ai.usage.input_tokens": 1200,
      "gen_ai.usage.output_tokens": 300,
    },
  },
  inRoot,
);
record("chat", chat);
chat.end();
const failed = tracer.startSpan("flaky step", {}, inRoot);
record("failed", failed);
failed.recordException(new Error("upstream timed out"));
failed.setStatus({ code: SpanStatusCode.ERROR, message: "upstream timed out" });
failed.end();
root.end();

await provider.forceFlush();
await provider.shutdown();

// Run from the folder npm installed into (the test copies this file there).
const version = (p) => JSON.parse(readFileSync(new URL(`./node_modules/${p}/package.json`, import.meta.url))).version;
console.log(
  JSON.stringify({
    trace_id: root.spanContext().traceId,
    spans: ids,
    packages: Object.fromEntries(
      [
        "@opentelemetry/sdk-trace-node",
        "@opentelemetry/sdk-trace-base",
        protocol === "proto" ? "@opentelemetry/exporter-trace-otlp-proto" : "@opentelemetry/exporter-trace-otlp-http",
      ].map((p) => [p, version(p)]),
    ),
  }),
);
