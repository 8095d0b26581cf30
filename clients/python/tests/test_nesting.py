"""The tree: parents across calls, await, gather, threads, generators; errors; capture."""

import asyncio
import contextvars
import sys
import threading
import types
import unittest

import spanvault
from .support import Recorder


class NestingTest(unittest.TestCase):
    def setUp(self):
        self.rec = Recorder()
        spanvault.init(service="svc", environment="test", socket=self.rec.path, flush_interval=0.005,
                       flush_on_exit=0)

    def tearDown(self):
        spanvault.shutdown(2)
        self.rec.close()

    def flushed(self):
        self.assertTrue(spanvault.flush(5), spanvault.stats())
        return self.rec

    def test_traced_functions_nest_and_capture_arguments_and_results(self):
        @spanvault.traced(type="retrieval")
        def retrieve(query, k=3):
            return ["doc1", "doc2"][:k]

        @spanvault.traced
        def answer(question):
            docs = retrieve(question, k=1)
            with spanvault.start_span("generate", type="generation", model="gpt-4o-mini") as span:
                span.log(input=[{"role": "user", "content": question}], output="Paris",
                         usage={"input_tokens": 10, "output_tokens": 2})
            return {"answer": "Paris", "docs": docs}

        self.assertEqual(answer("capital of France?")["answer"], "Paris")
        rec = self.flushed()
        root = rec.by_name("NestingTest.test_traced_functions_nest_and_capture_arguments_and_results.<locals>.answer")
        ret = rec.by_name("NestingTest.test_traced_functions_nest_and_capture_arguments_and_results.<locals>.retrieve")
        gen = rec.by_name("generate")
        self.assertNotIn("parent_span_id", root)
        self.assertEqual(ret["parent_span_id"], root["span_id"])
        self.assertEqual(gen["parent_span_id"], root["span_id"])
        self.assertEqual({ret["trace_id"], gen["trace_id"]}, {root["trace_id"]})
        self.assertEqual(root["input"], {"question": "capital of France?"})
        self.assertEqual(root["output"], {"answer": "Paris", "docs": ["doc1"]})
        self.assertEqual(ret["input"], {"query": "capital of France?", "k": 1})
        self.assertEqual(ret["type"], "retrieval")
        self.assertEqual(gen["model"], "gpt-4o-mini")
        self.assertEqual(gen["usage"], {"input_tokens": 10, "output_tokens": 2})
        self.assertEqual((root["service"], root["environment"]), ("svc", "test"))
        self.assertLessEqual(root["start_time"], gen["start_time"])
        self.assertLessEqual(gen["end_time"], root["end_time"])

    def test_an_exception_is_recorded_and_reraised_unchanged(self):
        class Boom(Exception):
            pass

        @spanvault.traced(name="fails")
        def fails():
            raise Boom("no luck")

        with self.assertRaises(Boom) as raised:
            fails()
        self.assertEqual(str(raised.exception), "no luck")
        with self.assertRaises(KeyError):
            with spanvault.start_span("block"):
                raise KeyError("k")
        rec = self.flushed()
        err = rec.by_name("fails")["error"]
        self.assertEqual((err["type"], err["message"]), ("Boom", "no luck"))
        self.assertIn("Traceback", err["stack"])
        self.assertEqual(rec.by_name("block")["error"]["type"], "KeyError")

    def test_capture_can_be_turned_off_per_decorator(self):
        @spanvault.traced(name="secret", capture_input=False, capture_output=False)
        def secret(password):
            return "token"

        secret("hunter2")
        span = self.flushed().by_name("secret")
        self.assertNotIn("input", span)
        self.assertNotIn("output", span)

    def test_async_functions_nest_across_await_and_gather(self):
        @spanvault.traced(name="leaf")
        async def leaf(i):
            await asyncio.sleep(0.001 * (3 - i))
            with spanvault.start_span("inner-%d" % i):
                await asyncio.sleep(0)
            return i * 2

        @spanvault.traced(name="fan-out", type="agent")
        async def fan_out():
            return await asyncio.gather(*(leaf(i) for i in range(3)))

        async def two_roots():
            return await asyncio.gather(fan_out(), fan_out())

        results = asyncio.run(two_roots())
        self.assertEqual(results, [[0, 2, 4], [0, 2, 4]])
        rec = self.flushed()
        roots = [s for s in rec.spans if s["name"] == "fan-out"]
        self.assertEqual(len(roots), 2)
        self.assertNotEqual(roots[0]["trace_id"], roots[1]["trace_id"])
        by_id = {s["span_id"]: s for s in rec.spans}
        leaves = [s for s in rec.spans if s["name"] == "leaf"]
        self.assertEqual(len(leaves), 6)
        for s in leaves:
            self.assertEqual(by_id[s["parent_span_id"]]["name"], "fan-out")
            self.assertEqual(s["trace_id"], by_id[s["parent_span_id"]]["trace_id"])
        for s in rec.spans:
            if s["name"].startswith("inner-"):
                parent = by_id[s["parent_span_id"]]
                self.assertEqual(parent["name"], "leaf")
                self.assertEqual(parent["output"], int(s["name"][-1]) * 2)

    def test_threads_started_with_a_copied_context_nest(self):
        def work(i):
            with spanvault.start_span("thread-%d" % i):
                pass

        with spanvault.start_span("parent") as parent:
            threads = [threading.Thread(target=contextvars.copy_context().run, args=(work, i)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        rec = self.flushed()
        for i in range(4):
            self.assertEqual(rec.by_name("thread-%d" % i)["parent_span_id"], parent.span_id)

    def test_generators_are_spans_current_only_while_they_compute(self):
        @spanvault.traced(name="stream")
        def stream(n):
            for i in range(n):
                with spanvault.start_span("item-%d" % i):
                    pass
                yield i

        with spanvault.start_span("consumer") as consumer:
            for i in stream(2):
                with spanvault.start_span("use-%d" % i):
                    pass
        rec = self.flushed()
        gen = rec.by_name("stream")
        self.assertEqual(gen["parent_span_id"], consumer.span_id)
        self.assertEqual(gen["output"], [0, 1])
        self.assertEqual(gen["input"], {"n": 2})
        for i in range(2):
            self.assertEqual(rec.by_name("item-%d" % i)["parent_span_id"], gen["span_id"])
            self.assertEqual(rec.by_name("use-%d" % i)["parent_span_id"], consumer.span_id)

    def test_async_generators_too(self):
        @spanvault.traced(name="agen")
        async def agen():
            for i in range(2):
                with spanvault.start_span("a-item-%d" % i):
                    await asyncio.sleep(0)
                yield i

        async def main():
            return [i async for i in agen()]

        self.assertEqual(asyncio.run(main()), [0, 1])
        rec = self.flushed()
        gen = rec.by_name("agen")
        self.assertEqual(gen["output"], [0, 1])
        self.assertEqual(rec.by_name("a-item-1")["parent_span_id"], gen["span_id"])

    def test_log_merges_dicts_appends_tags_and_children_inherit_session_and_user(self):
        with spanvault.start_span("turn", session_id="chat-1", user_id="u-1", tags=["a"]) as span:
            span.log(metadata={"x": 1}, tags=["b"], scores={"helpful": 1.0})
            span.log(metadata={"y": 2}, metrics={"latency_s": 0.5}, experiment="e7")
            with spanvault.start_span("child"):
                pass
            spanvault.current_span().log(output="done")
        rec = self.flushed()
        turn = rec.by_name("turn")
        self.assertEqual(turn["metadata"], {"x": 1, "y": 2, "experiment": "e7"})
        self.assertEqual(turn["tags"], ["a", "b"])
        self.assertEqual(turn["output"], "done")
        child = rec.by_name("child")
        self.assertEqual((child["session_id"], child["user_id"]), ("chat-1", "u-1"))

    def test_continue_trace_and_explicit_parents(self):
        header = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
        with spanvault.continue_trace(header):
            with spanvault.start_span("handler"):
                pass
        parent = spanvault.start_span("manual")
        child = spanvault.start_span("explicit", parent=parent)
        child.end()
        parent.end()
        rec = self.flushed()
        handler = rec.by_name("handler")
        self.assertEqual(handler["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736")
        self.assertEqual(handler["parent_span_id"], "00f067aa0ba902b7")
        self.assertEqual(rec.by_name("explicit")["parent_span_id"], parent.span_id)
        self.assertNotIn("parent_span_id", rec.by_name("manual"))  # start_span alone does not make it current

    def test_other_sdks_types_are_mapped(self):
        for kind in ("llm", "task", "GENERATION", "weird"):
            spanvault.start_span("t-" + kind, type=kind).end()
        rec = self.flushed()
        self.assertEqual(rec.by_name("t-llm")["type"], "generation")
        self.assertEqual(rec.by_name("t-task")["type"], "span")
        self.assertEqual(rec.by_name("t-GENERATION")["type"], "generation")
        self.assertEqual(rec.by_name("t-weird")["type"], "span")
        self.assertEqual(rec.by_name("t-weird")["attributes"]["spanvault.type"], "weird")

    def test_spans_join_opentelemetry_both_ways(self):
        # A stand-in of opentelemetry-api's trace and context modules (not in Debian).
        current = contextvars.ContextVar("otel-context", default={})

        class SpanContext:
            def __init__(self, trace_id, span_id, is_remote=False, trace_flags=0):
                self.trace_id, self.span_id, self.trace_flags = trace_id, span_id, trace_flags
                self.is_valid = bool(trace_id and span_id)

        class NonRecordingSpan:
            def __init__(self, ctx):
                self.ctx = ctx

            def get_span_context(self):
                return self.ctx

        trace = types.ModuleType("opentelemetry.trace")
        trace.SpanContext, trace.NonRecordingSpan, trace.TraceFlags = SpanContext, NonRecordingSpan, int
        trace.set_span_in_context = lambda span: {"span": span}
        trace.get_current_span = lambda: current.get().get("span") or NonRecordingSpan(SpanContext(0, 0))
        context = types.ModuleType("opentelemetry.context")
        context.attach = current.set
        context.detach = current.reset
        sys.modules.update({"opentelemetry.trace": trace, "opentelemetry.context": context})
        try:
            otel_root = NonRecordingSpan(SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, 0, 1))
            token = current.set({"span": otel_root})
            with spanvault.start_span("under-otel") as ours:
                inner = trace.get_current_span().get_span_context()  # what OTel instrumentation would see
            current.reset(token)
            after = trace.get_current_span().get_span_context()
        finally:
            del sys.modules["opentelemetry.trace"], sys.modules["opentelemetry.context"]
        span = self.flushed().by_name("under-otel")
        self.assertEqual(span["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736")
        self.assertEqual(span["parent_span_id"], "00f067aa0ba902b7")
        self.assertEqual(("%032x" % inner.trace_id, "%016x" % inner.span_id), (ours.trace_id, ours.span_id))
        self.assertFalse(after.is_valid)


if __name__ == "__main__":
    unittest.main()
