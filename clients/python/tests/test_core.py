"""Ids, W3C traceparent, finding the socket, and turning any value into a line."""

import dataclasses
import datetime
import json
import os
import re
import unittest

import spanvault
from spanvault import _ids, _serialize
from spanvault._socket import resolve_socket
from spanvault._traceparent import parse_traceparent


class IdsTest(unittest.TestCase):
    def test_ids_are_lowercase_hex_of_w3c_lengths_and_unique(self):
        traces = {_ids.trace_id() for _ in range(2000)}
        spans = {_ids.span_id() for _ in range(2000)}
        self.assertEqual(len(traces), 2000)
        self.assertEqual(len(spans), 2000)
        for t in traces:
            self.assertRegex(t, r"^[0-9a-f]{32}$")
        for s in spans:
            self.assertRegex(s, r"^[0-9a-f]{16}$")


class TraceparentTest(unittest.TestCase):
    GOOD = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    def test_parses_a_valid_header(self):
        ctx = parse_traceparent(self.GOOD)
        self.assertEqual(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736")
        self.assertEqual(ctx.span_id, "00f067aa0ba902b7")
        self.assertTrue(ctx.sampled)
        self.assertFalse(parse_traceparent(self.GOOD[:-2] + "00").sampled)

    def test_refuses_malformed_headers(self):
        bad = [
            None, "", "garbage", self.GOOD.upper(), self.GOOD[:-1],
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero span id
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
            self.GOOD + "-extra",  # version 00 has exactly four fields
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
        ]
        for value in bad:
            with self.subTest(value=value):
                self.assertIsNone(parse_traceparent(value))

    def test_future_versions_are_read_by_their_first_fields(self):
        self.assertIsNotNone(parse_traceparent("01" + self.GOOD[2:] + "-whatever"))

    def test_extract_reads_any_header_case_and_inject_writes_the_current_span(self):
        self.assertEqual(spanvault.extract({"Traceparent": self.GOOD}).span_id, "00f067aa0ba902b7")
        self.assertEqual(spanvault.extract({"TRACEPARENT": [self.GOOD]}).span_id, "00f067aa0ba902b7")
        self.assertIsNone(spanvault.extract({}))
        self.assertEqual(spanvault.inject({}), {})  # no current span: nothing to write
        spanvault.init(socket="/nonexistent/spans.sock", flush_on_exit=0)
        with spanvault.start_span("server") as span:
            headers = spanvault.inject({"x": "1"})
        self.assertEqual(headers["traceparent"], "00-%s-%s-01" % (span.trace_id, span.span_id))
        self.assertEqual(headers["x"], "1")


class SocketTest(unittest.TestCase):
    def test_order_of_sources(self):
        none = lambda p: False  # noqa: E731
        self.assertEqual(resolve_socket("/x.sock", env={}, uid=1000, exists=none), "/x.sock")
        self.assertEqual(resolve_socket(env={"SPANVAULT_SOCKET": "/a.sock"}, uid=1000, exists=none), "/a.sock")
        self.assertEqual(resolve_socket(env={"SPANVAULT_RUNTIME_DIR": "/r"}, uid=1000, exists=none), "/r/spans.sock")
        self.assertEqual(resolve_socket(env={"SPANVAULT_RUNTIME_DIR": "/r", "SPANVAULT_INGEST_UNIX_STREAM": "in.sock"},
                                        uid=1000, exists=none), "/r/in.sock")
        self.assertEqual(resolve_socket(env={"SPANVAULT_INGEST_UNIX_STREAM": "/abs/in.sock"}, uid=1000, exists=none),
                         "/abs/in.sock")
        self.assertEqual(resolve_socket(env={}, uid=0, exists=none), "/run/spanvault/spans.sock")
        self.assertEqual(resolve_socket(env={"XDG_RUNTIME_DIR": "/run/user/7"}, uid=7, exists=none),
                         "/run/user/7/spanvault/spans.sock")
        self.assertEqual(resolve_socket(env={}, uid=7, exists=none), "spanvault-data/run/spans.sock")

    def test_a_non_root_app_finds_the_system_daemon(self):
        there = lambda p: p == "/run/spanvault/spans.sock"  # noqa: E731
        self.assertEqual(resolve_socket(env={"XDG_RUNTIME_DIR": "/run/user/7"}, uid=7, exists=there),
                         "/run/spanvault/spans.sock")


class SerializeTest(unittest.TestCase):
    def test_values_json_cannot_carry_are_converted(self):
        @dataclasses.dataclass
        class Doc:
            id: int
            text: str

        class Model:  # shaped like a pydantic model / SDK object
            def model_dump(self, exclude_none=False):
                return {"role": "assistant", "content": "hi"}

        doc = {"name": "x", "input": {"doc": Doc(1, "a"), "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
                                      "tags": {"a"}, "raw": b"\x00\x01", "msg": Model(), "err": ValueError("bad")}}
        line, truncated, fallback = _serialize.dumps(doc, 1 << 20)
        self.assertFalse(truncated)
        self.assertFalse(fallback)
        got = json.loads(line)["input"]
        self.assertEqual(got["doc"], {"id": 1, "text": "a"})
        self.assertEqual(got["when"], "2026-01-02T03:04:05")
        self.assertEqual(got["tags"], ["a"])
        self.assertEqual(got["raw"], "[bytes: 2]")
        self.assertEqual(got["msg"], {"role": "assistant", "content": "hi"})
        self.assertEqual(got["err"], {"type": "ValueError", "message": "bad"})

    def test_a_cycle_costs_only_its_field(self):
        loop = []
        loop.append(loop)
        line, _, fallback = _serialize.dumps({"name": "x", "input": loop, "output": "kept"}, 1 << 20)
        self.assertTrue(fallback)
        got = json.loads(line)
        self.assertEqual(got["output"], "kept")
        self.assertTrue(got["input"].startswith("[spanvault: not JSON"))

    def test_an_oversized_span_keeps_its_identity_and_says_what_was_cut(self):
        line, truncated, _ = _serialize.dumps({"name": "big", "input": "x" * 300000, "output": "small"}, 100000)
        self.assertTrue(truncated)
        self.assertLessEqual(len(line), 100000)
        got = json.loads(line)
        self.assertEqual(got["name"], "big")
        self.assertRegex(got["input"], r"^\[spanvault: truncated \d+ bytes\]$")
        self.assertEqual(got["output"], "small")
        self.assertEqual(got["attributes"]["spanvault.truncated"], ["input"])

    def test_lines_are_valid_utf8_whatever_the_strings(self):
        line, _, _ = _serialize.dumps({"name": "x", "input": "caf\u00e9 \ud800 \U0001F600"}, 1 << 20)
        line.decode("utf-8")  # lone surrogates do not make invalid UTF-8
        self.assertNotIn(b"\n", line)


if __name__ == "__main__":
    unittest.main()
