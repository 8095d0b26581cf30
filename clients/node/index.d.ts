// Type definitions for spanvault 0.1 (hand-written; the package is plain ESM).

/** Options of {@link init}. Every field is optional. */
export interface InitOptions {
  /** Written as `service` on every span (default: $SPANVAULT_SERVICE or $OTEL_SERVICE_NAME). */
  service?: string;
  environment?: string;
  release?: string;
  /** Path of the daemon's stream socket (default: {@link resolveSocket}, resolved at each connection). */
  socket?: string;
  /** Spans held in memory (waiting + unanswered) before new ones are dropped. Default 20000. */
  maxQueueSpans?: number;
  /** Bytes held in memory before new spans are dropped. Default 32 MiB. */
  maxQueueBytes?: number;
  /** Lines per write (each write ends with a `$sync` barrier). Default 512. */
  batchSize?: number;
  /** How long a partial batch waits before it is written. Default 50 ms. */
  flushIntervalMs?: number;
  /** Record arguments of traced functions and SDK requests. Default true. */
  captureInput?: boolean;
  /** Record return values of traced functions and SDK responses. Default true. */
  captureOutput?: boolean;
  /** Join OpenTelemetry traces when @opentelemetry/api is installed. Default true. */
  otel?: boolean;
  /** A longer span line gets its input/output/expected replaced by markers. Default 1 MiB − 4 KiB. */
  maxSpanBytes?: number;
  /** Bounded flush on 'beforeExit'. Default 2000 ms. */
  flushOnExitMs?: number;
}

export type SpanType =
  | 'span' | 'generation' | 'embedding' | 'retrieval' | 'tool' | 'agent' | 'chain' | 'guardrail' | 'evaluator' | 'event';

/** Unix seconds, Unix milliseconds (≥ 1e11, like Date.now()), a Date, or an RFC 3339 string. */
export type TimeInput = number | Date | string;

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  total_tokens?: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
  reasoning_tokens?: number;
  [key: string]: unknown;
}

export interface SpanError {
  type?: string;
  message?: string;
  stack?: string;
  [key: string]: unknown;
}

/** Fields accepted by {@link Span.log} (camelCase or the wire's snake_case). */
export interface SpanFields {
  input?: unknown;
  output?: unknown;
  expected?: unknown;
  /** Merged. */
  metadata?: Record<string, unknown>;
  /** Merged. Numbers. */
  metrics?: Record<string, number>;
  /** Merged. Numbers in [0, 1]. */
  scores?: Record<string, number>;
  usage?: Usage;
  model?: string;
  provider?: string;
  modelParameters?: Record<string, unknown>;
  model_parameters?: Record<string, unknown>;
  /** Appended. */
  tags?: string[] | string;
  /** An Error is stored as {type, message, stack}; sets status "error". */
  error?: unknown;
  status?: 'ok' | 'error';
  cost?: number | Record<string, unknown>;
  sessionId?: string;
  userId?: string;
  /** Merged into the span's attributes. */
  attributes?: Record<string, unknown>;
  /** Other keys become attributes. */
  [key: string]: unknown;
}

/** A parent context, as returned by {@link extractTraceparent}. */
export interface SpanContext {
  traceId: string;
  spanId: string;
  sampled?: boolean;
  remote?: boolean;
  sessionId?: string;
  userId?: string;
}

export interface SpanOptions extends SpanFields {
  type?: SpanType;
  /** A Span, a traceparent string, an extracted context, or null for a new trace. */
  parent?: Span | NoopSpan | SpanContext | string | null;
  startTime?: TimeInput;
}

export declare class Span {
  private constructor();
  readonly spanId: string;
  readonly traceId: string;
  readonly parentSpanId: string | null;
  readonly sessionId: string | undefined;
  readonly userId: string | undefined;
  readonly name: string;
  readonly ended: boolean;
  readonly isRecording: boolean;
  /** metadata/metrics/scores/attributes merge, tags append, others replace. */
  log(fields: SpanFields): this;
  setAttributes(attributes: Record<string, unknown>): this;
  recordError(error: unknown): this;
  /** Ends and sends the span; only the first call counts. */
  end(options?: {endTime?: TimeInput}): void;
  /** "00-<trace id>-<span id>-01". */
  traceparent(): string;
  toJSON(): Record<string, unknown>;
}

/** What currentSpan() returns outside any span: every method does nothing. */
export declare class NoopSpan {
  readonly spanId: '';
  readonly traceId: '';
  readonly parentSpanId: null;
  readonly sessionId: undefined;
  readonly userId: undefined;
  readonly name: '';
  readonly ended: true;
  readonly isRecording: false;
  log(fields?: SpanFields): this;
  setAttributes(attributes?: Record<string, unknown>): this;
  recordError(error?: unknown): this;
  end(options?: {endTime?: TimeInput}): void;
  traceparent(): null;
  toJSON(): Record<string, never>;
}

export interface TracedOptions extends SpanOptions {
  /** Default: the function's name, or "anonymous". */
  name?: string;
  captureInput?: boolean;
  captureOutput?: boolean;
}

export interface Stats {
  enqueued: number;
  sent: number;
  confirmed: number;
  rejected: number;
  droppedQueueFull: number;
  droppedSerialize: number;
  truncated: number;
  reconnects: number;
  connected: boolean;
  queueSpans: number;
  queueBytes: number;
  lastError: string | null;
}

/** The parts of a fetch `Headers` object used here. */
export interface HeadersLike {
  get(name: string): string | null;
  set(name: string, value: string): void;
  has(name: string): boolean;
}

export interface ResolveSocketOptions {
  env?: Record<string, string | undefined>;
  uid?: number;
  cwd?: string;
  exists?: (path: string) => boolean;
}

export declare function init(options?: InitOptions): void;
export declare function startSpan(name: string, options?: SpanOptions): Span;
export declare function withSpan<T>(name: string, fn: (span: Span) => T): T;
export declare function withSpan<T>(name: string, options: SpanOptions | undefined, fn: (span: Span) => T): T;
export declare function traced<F extends (...args: any[]) => any>(fn: F, options?: TracedOptions): F;
export declare function currentSpan(): Span | NoopSpan;
export declare function injectTraceparent<H extends Record<string, unknown> | HeadersLike = Record<string, string>>(headers?: H): H;
export declare function extractTraceparent(
  headersOrString: string | HeadersLike | Record<string, string | string[] | undefined> | null | undefined,
): SpanContext | null;
export declare function flush(options?: {timeoutMs?: number}): Promise<boolean>;
export declare function stats(): Stats;
export declare function shutdown(options?: {timeoutMs?: number}): Promise<boolean>;
export declare function resolveSocket(options?: ResolveSocketOptions): string;
export declare function newTraceId(): string;
export declare function newSpanId(): string;
/** Returns a traced Proxy of an `openai` client (same type). */
export declare function wrapOpenAI<T extends object>(client: T): T;
/** Returns a traced Proxy of an `@anthropic-ai/sdk` client (same type). */
export declare function wrapAnthropic<T extends object>(client: T): T;
