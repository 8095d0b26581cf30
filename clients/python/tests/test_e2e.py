"""End to end against the real spanvaultd: the tree as stored, pricing of wrapped
calls, refusals, and a daemon restart or kill while the app sends."""

import asyncio
import contextvars
import json
import signal
import threading
import unittest
import urllib.request

import spanvault
from . import fake_sdks
from .support import Daemon, require_daemon, wait_until


class EndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = require_daemon(cls)

    def setUp(self):
        self.daemon = Daemon(self.binary)
        spanvault.init(service="py-e2e", environment="test", socket=self.daemon.socket, flush_on_exit=0,
                       max_queue_spans=100000)

    def tearDown(self):
        spanvault.shutdown(2)
        self.daemon.close()

    def stored(self, trace_id, count):
        return wait_until(lambda: (lambda s: s if len(s) >= count else None)(self.daemon.spans(trace_id)),
                          20, "%d spans of trace %s in the store" % (count, trace_id))

    def exported_span_ids(self):
        with urllib.request.urlopen(self.daemon.url + "/api/export?shape=spans", timeout=60) as r:
            return [json.loads(line)["span_id"] for line in r.read().splitlines() if line.strip()]

    def test_nested_async_and_threaded_spans_arrive_with_their_parents(self):
        @spanvault.traced(type="retrieval")
        async def retrieve(i):
            await asyncio.sleep(0.001)
            return ["doc-%d" % i]

        @spanvault.traced(type="agent")
        async def agent():
            docs = await asyncio.gather(*(retrieve(i) for i in range(5)))
            with spanvault.start_span("generate", type="generation", model="gpt-4o-mini", provider="openai") as g:
                g.log(usage={"input_tokens": 1000, "output_tokens": 100})

                def tool(i):
                    with spanvault.start_span("tool-%d" % i, type="tool"):
                        pass

                threads = [threading.Thread(target=contextvars.copy_context().run, args=(tool, i)) for i in range(3)]
                [t.start() for t in threads]
                [t.join() for t in threads]
            return docs

        with spanvault.start_span("request", session_id="s-1") as root:
            asyncio.run(agent())
        self.assertTrue(spanvault.flush(10), spanvault.stats())
        spans = self.stored(root.trace_id, 11)
        by_name = {}
        for s in spans.values():
            by_name.setdefault(s["name"], []).append(s)
        agent_span = by_name["EndToEndTest.test_nested_async_and_threaded_spans_arrive_with_their_parents.<locals>.agent"][0]
        self.assertEqual(agent_span["parent_span_id"], root.span_id)
        retrieves = by_name["EndToEndTest.test_nested_async_and_threaded_spans_arrive_with_their_parents.<locals>.retrieve"]
        self.assertEqual(len(retrieves), 5)
        self.assertEqual({s["parent_span_id"] for s in retrieves}, {agent_span["span_id"]})
        gen = by_name["generate"][0]
        self.assertEqual(gen["parent_span_id"], agent_span["span_id"])
        for i in range(3):
            self.assertEqual(by_name["tool-%d" % i][0]["parent_span_id"], gen["span_id"])
        self.assertEqual({s["session_id"] for s in spans.values()}, {"s-1"})  # inherited by every child
        self.assertGreater(gen["cost"]["total"], 0)  # priced by the daemon
        self.assertEqual(gen["service"], "py-e2e")
        trace = self.daemon.trace(root.trace_id)
        self.assertEqual(trace["roots"], [root.span_id])

    def test_a_wrapped_openai_call_is_stored_with_canonical_usage_and_cost(self):
        client = spanvault.wrap_openai(fake_sdks.FakeOpenAI())
        with spanvault.start_span("chat") as root:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            for _ in client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                    messages=[{"role": "user", "content": "hi"}]):
                pass
        self.assertTrue(spanvault.flush(10))
        spans = [s for s in self.stored(root.trace_id, 3).values() if s["name"] != "chat"]
        full = [s for s in spans if "time_to_first_token" not in s.get("metrics", {})][0]
        self.assertEqual(full["usage"]["input_tokens"], 812)
        self.assertEqual(full["usage"]["cache_read_tokens"], 512)
        self.assertEqual(full["usage"]["reasoning_tokens"], 8)
        self.assertGreater(full["cost"]["total"], 0)
        streamed = [s for s in spans if s is not full][0]
        self.assertEqual(streamed["output"][0]["content"], "Paris.")
        self.assertEqual(streamed["usage"]["output_tokens"], 7)

    def test_a_span_the_daemon_refuses_is_counted_with_its_reason(self):
        spanvault.start_span("bad-usage", usage={"cache_read_tokens": 10}).end()
        spanvault.start_span("fine").end()
        self.assertTrue(spanvault.flush(10))
        s = spanvault.stats()
        self.assertEqual((s["rejected"], s["confirmed"]), (1, 1))
        self.assertIn("cache_read_tokens", s["last_error"])

    def test_a_daemon_restart_while_sending_loses_nothing(self):
        total = 20000
        sent_ids = []
        done = threading.Event()

        def produce():
            for i in range(total):
                span = spanvault.start_span("s%d" % i, input={"i": i})
                span.end()
                sent_ids.append(span.span_id)
            done.set()

        producer = threading.Thread(target=produce)
        producer.start()
        wait_until(lambda: spanvault.stats()["confirmed"] > 2000, 30, "the first confirmed spans")
        self.daemon.restart(signal.SIGTERM)
        producer.join(60)
        self.assertTrue(done.is_set())
        self.assertTrue(spanvault.flush(30), spanvault.stats())
        s = spanvault.stats()
        self.assertEqual(s["dropped_queue_full"], 0)
        self.assertGreaterEqual(s["reconnects"], 1)
        want = set(sent_ids)
        # The export of 20k spans is heavy for a sanitizer build: poll slowly.
        got = wait_until(lambda: (lambda ids: ids if want <= ids else None)(set(self.exported_span_ids())), 120,
                         "every sent span in the store", interval=1.0)
        self.assertTrue(want <= got)

    def test_what_flush_confirmed_survives_kill_9(self):
        confirmed = []
        for i in range(3000):
            span = spanvault.start_span("k%d" % i)
            span.end()
            confirmed.append(span.span_id)
        self.assertTrue(spanvault.flush(20))
        for i in range(3000):  # not flushed: may or may not survive
            spanvault.start_span("late%d" % i).end()
        self.daemon.stop(signal.SIGKILL)
        self.daemon.start()
        want = set(confirmed)
        wait_until(lambda: want <= set(self.exported_span_ids()), 120, "every confirmed span after kill -9",
                   interval=1.0)


if __name__ == "__main__":
    unittest.main()
