"""The sender: never blocks or raises into the app, bounds its queue, resends after a break."""

import json
import os
import time
import unittest

import spanvault
from spanvault._sender import Sender
from .support import Recorder, wait_until


class SenderTest(unittest.TestCase):
    def test_with_no_daemon_the_app_runs_on_and_drops_are_counted(self):
        spanvault.init(socket="/nonexistent/dir/spans.sock", max_queue_spans=100, flush_on_exit=0)
        started = time.monotonic()
        for i in range(250):
            with spanvault.start_span("s%d" % i) as span:
                span.log(input="x")
        self.assertLess(time.monotonic() - started, 5)  # nothing waited for the socket
        self.assertFalse(spanvault.flush(0.2))
        s = spanvault.stats()
        self.assertEqual(s["enqueued"], 100)
        self.assertEqual(s["dropped_queue_full"], 150)
        self.assertEqual(s["queue_spans"], 100)
        self.assertFalse(s["connected"])
        self.assertIn("connect", s["last_error"])
        spanvault.shutdown(0.1)

    def test_the_byte_bound_holds_too(self):
        sender = Sender("/nonexistent/dir/spans.sock", max_spans=1000, max_bytes=1000)
        self.assertTrue(sender.enqueue(b"x" * 600))
        self.assertFalse(sender.enqueue(b"x" * 600))
        self.assertEqual(sender.snapshot()["dropped_queue_full"], 1)
        sender.close(0.1)

    def test_flush_waits_for_the_daemons_answer(self):
        rec = Recorder(answer=False)
        try:
            sender = Sender(rec.path, flush_interval=0.001)
            sender.enqueue(b'{"name":"a"}')
            wait_until(lambda: rec.spans, what="the span at the server")
            self.assertFalse(sender.flush(0.2))  # written, but not confirmed
            self.assertEqual(sender.snapshot()["queue_spans"], 1)
            sender.close(0.1)
        finally:
            rec.close()

    def test_unanswered_batches_are_resent_after_the_connection_breaks(self):
        rec = Recorder(answer=False)
        sender = Sender(rec.path, flush_interval=0.001)
        try:
            for i in range(10):
                sender.enqueue(json.dumps({"name": "n%d" % i}).encode())
            wait_until(lambda: len(rec.spans) == 10, what="10 spans")
            rec.answer = True
            rec.drop_connections()
            self.assertTrue(sender.flush(10), sender.snapshot())
            names = [s["name"] for s in rec.spans]
            self.assertEqual(names[10:], ["n%d" % i for i in range(10)])  # again, in order
            s = sender.snapshot()
            self.assertEqual((s["resent"], s["confirmed"], s["queue_spans"]), (10, 10, 0))
            self.assertGreaterEqual(s["reconnects"], 1)
            self.assertEqual(rec.connections, 2)
        finally:
            sender.close(0.5)
            rec.close()

    def test_it_connects_once_the_daemon_appears(self):
        rec_dir_holder = Recorder()
        path = rec_dir_holder.path
        rec_dir_holder.close()  # the path is free again
        os.makedirs(os.path.dirname(path), exist_ok=True)
        sender = Sender(path, flush_interval=0.001)
        try:
            sender.enqueue(b'{"name":"early"}')
            wait_until(lambda: sender.snapshot()["connect_failures"] > 0, what="a failed connect")
            rec = Recorder(path=path)
            try:
                self.assertTrue(sender.flush(10), sender.snapshot())
                self.assertEqual([s["name"] for s in rec.spans], ["early"])
            finally:
                rec.close()
        finally:
            sender.close(0.1)

    def test_a_daemon_refusal_is_counted_with_its_reason(self):
        rec = Recorder(reject=lambda doc: "name is bad" if doc["name"] == "bad" else None)
        sender = Sender(rec.path, flush_interval=0.001)
        try:
            for name in ("good", "bad", "good"):
                sender.enqueue(json.dumps({"name": name}).encode())
            self.assertTrue(sender.flush(5))  # refused spans are answered too: nothing to resend
            s = sender.snapshot()
            self.assertEqual((s["confirmed"], s["rejected"], s["queue_spans"]), (2, 1, 0))
            self.assertEqual(s["last_error"], "daemon refused a span: name is bad")
        finally:
            sender.close(0.1)
            rec.close()

    @unittest.skipUnless(hasattr(os, "fork"), "needs fork")
    def test_a_forked_child_sends_its_own_spans_and_not_the_parents(self):
        rec = Recorder()
        try:
            spanvault.init(socket=rec.path, flush_interval=0.001, flush_on_exit=0)
            spanvault.start_span("parent-before").end()
            self.assertTrue(spanvault.flush(5))
            spanvault.start_span("parent-queued").end()
            pid = os.fork()
            if pid == 0:  # the child: its own sender thread, its own queue
                code = 1
                try:
                    spanvault.start_span("child").end()
                    code = 0 if spanvault.flush(5) else 2
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            self.assertEqual(os.waitstatus_to_exitcode(status), 0)
            self.assertTrue(spanvault.flush(5))
            names = sorted(s["name"] for s in rec.spans)
            self.assertEqual(names, ["child", "parent-before", "parent-queued"])
            child = [s for s in rec.spans if s["name"] == "child"][0]
            parents = [s for s in rec.spans if s["name"] != "child"]
            self.assertNotIn(child["span_id"], {s["span_id"] for s in parents})
        finally:
            spanvault.shutdown(1)
            rec.close()


if __name__ == "__main__":
    unittest.main()
