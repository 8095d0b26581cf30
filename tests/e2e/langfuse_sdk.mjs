// The Langfuse JS SDK (@langfuse/tracing + @langfuse/otel, built on
// OpenTelemetry) pointed at spanvaultd as if it were Langfuse.
//   node langfuse_sdk.mjs http://127.0.0.1:PORT RUN_ID
// Emits one trace: lf-agent (span) → lf-tool (tool) and lf-generation (a
// generation with model, parameters and usage); flushes; prints
// {"trace_id", "spans": {name: span_id}, "packages": {...}}.
import { readFileSync } from "node:fs";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { LangfuseSpanProcessor } from "@langfuse/otel";
import { startObservation } from "@langfuse/tracing";

const [baseUrl, run] = process.argv.slice(2);
const processor = new LangfuseSpanProcessor({
  publicKey: "pk-lf-spanvault-e2e",
  secretKey: "sk-lf-spanvault-e2e",
  baseUrl,
  exportMode: "immediate",
});
const provider = new NodeTracerProvider({ spanProcessors: [processor] });
provider.register();

const root = startObservation(`lf-agent ${run}`, { input: { question: "What is spanvault?" } });
const tool = root.startObservation("lf-tool", { input: { query: "spanvault" } }, { asType: "tool" });
tool.update({ output: { hits: 3 } });
tool.end();
const gen = root.startObservation(
  "lf-generation",
  {
    model: "gpt-4o-mini",
    modelParameters: { temperature: 0.5, max_tokens: 256 },
    input: [{ role: "user", content: "What is spanvault?" }],
  },
  { asType: "generation" },
);
gen.update({ output: { role: "assistant", content: "A local tracing sidecar." }, usageDetails: { input: 1000, output: 200 } });
gen.end();
root.update({ output: { answer: "A local tracing sidecar." } });
root.end();

await processor.forceFlush();
await provider.shutdown();

// Run from the folder npm installed into (the test copies this file there).
const version = (p) => JSON.parse(readFileSync(new URL(`./node_modules/${p}/package.json`, import.meta.url))).version;
console.log(
  JSON.stringify({
    trace_id: root.traceId,
    spans: { agent: root.id, tool: tool.id, generation: gen.id },
    packages: Object.fromEntries(
      ["@langfuse/tracing", "@langfuse/otel", "@opentelemetry/sdk-trace-node"].map((p) => [p, version(p)]),
    ),
  }),
);
