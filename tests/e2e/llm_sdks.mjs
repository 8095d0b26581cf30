// Real LLM instrumentations from npm, each patching the real `openai` SDK
// that calls a fake OpenAI server in this process, exporting over OTLP/HTTP
// JSON to spanvaultd:
//   node llm_sdks.mjs http://127.0.0.1:PORT openinference|traceloop RUN_ID
// One chat completion inside a parent span; the fake answer reports usage
// with cached and reasoning tokens. Prints {"trace_id", "spans": {parent,
// chat}, "packages": {...}}.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { trace } from "@opentelemetry/api";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import OpenAI from "openai";

const [baseUrl, kind, run] = process.argv.slice(2);

const answer = {
  id: "chatcmpl-e2e",
  object: "chat.completion",
  created: 1735787045,
  model: "gpt-4o-mini-2024-07-18",
  choices: [{ index: 0, message: { role: "assistant", content: "A local tracing sidecar." }, finish_reason: "stop" }],
  usage: {
    prompt_tokens: 1000,
    completion_tokens: 200,
    total_tokens: 1200,
    prompt_tokens_details: { cached_tokens: 800 },
    completion_tokens_details: { reasoning_tokens: 50 },
  },
};
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(answer));
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));

const exporter = new OTLPTraceExporter({ url: `${baseUrl}/v1/traces` });
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": `e2e-${kind}` }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
provider.register();

let packages;
if (kind === "openinference") {
  const { OpenAIInstrumentation } = await import("@arizeai/openinference-instrumentation-openai");
  const inst = new OpenAIInstrumentation();
  inst.setTracerProvider(provider);
  inst.manuallyInstrument(OpenAI);
  packages = ["@arizeai/openinference-instrumentation-openai", "openai"];
} else {
  const { OpenAIInstrumentation } = await import("@traceloop/instrumentation-openai");
  const inst = new OpenAIInstrumentation({ traceContent: true });
  inst.setTracerProvider(provider);
  inst.manuallyInstrument(OpenAI);
  packages = ["@traceloop/instrumentation-openai", "openai"];
}

const client = new OpenAI({ apiKey: "sk-e2e", baseURL: `http://127.0.0.1:${server.address().port}/v1` });
const tracer = trace.getTracer("e2e");
let chatSpanId;
const parent = await tracer.startActiveSpan(`ask ${run}`, async (span) => {
  await client.chat.completions.create({
    model: "gpt-4o-mini",
    temperature: 0.2,
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "What is spanvault?" },
    ],
  });
  span.end();
  return span;
});
await provider.forceFlush();
await provider.shutdown();
server.close();

const version = (p) => JSON.parse(readFileSync(new URL(`./node_modules/${p}/package.json`, import.meta.url))).version;
console.log(
  JSON.stringify({
    trace_id: parent.spanContext().traceId,
    spans: { parent: parent.spanContext().spanId },
    packages: Object.fromEntries(packages.map((p) => [p, version(p)])),
  }),
);
