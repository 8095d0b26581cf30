"""wrap_openai / wrap_anthropic against objects shaped like the official SDKs."""

import asyncio
import unittest

import spanvault
from . import fake_sdks
from .support import Recorder

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}]


class WrapperTest(unittest.TestCase):
    def setUp(self):
        self.rec = Recorder()
        spanvault.init(socket=self.rec.path, flush_interval=0.005, flush_on_exit=0)

    def tearDown(self):
        spanvault.shutdown(2)
        self.rec.close()

    def spans(self, name):
        self.assertTrue(spanvault.flush(5))
        return [s for s in self.rec.spans if s["name"] == name]

    def test_chat_completion_is_a_generation_child_of_the_current_span(self):
        client = spanvault.wrap_openai(fake_sdks.FakeOpenAI())
        with spanvault.start_span("agent", type="agent") as agent:
            out = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2,
                                                 max_tokens=50)
        self.assertEqual(out.choices[0].message.content, "Paris.")  # the app gets the SDK's own object
        span, = self.spans("openai.chat.completions.create")
        self.assertEqual(span["parent_span_id"], agent.span_id)
        self.assertEqual((span["type"], span["provider"], span["model"]), ("generation", "openai", "gpt-4o-mini"))
        self.assertEqual(span["model_parameters"], {"temperature": 0.2, "max_tokens": 50})
        self.assertEqual(span["input"], MESSAGES)
        self.assertEqual(span["output"], [{"role": "assistant", "content": "Paris."}])
        self.assertEqual(span["usage"]["prompt_tokens"], 812)
        self.assertEqual(span["usage"]["prompt_tokens_details"], {"cached_tokens": 512, "audio_tokens": 0})
        self.assertEqual(span["usage"]["completion_tokens_details"]["reasoning_tokens"], 8)
        self.assertEqual(span["metadata"]["finish_reason"], "stop")

    def test_streamed_chat_accumulates_text_tool_calls_usage_and_time_to_first_token(self):
        client = spanvault.wrap_openai(fake_sdks.FakeOpenAI())
        stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True})
        with stream:
            pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
        self.assertEqual("".join(pieces), "Paris.")
        self.assertTrue(stream.closed)  # attributes pass through to the SDK's stream
        span, = self.spans("openai.chat.completions.create")
        msg = span["output"][0]
        self.assertEqual(msg["content"], "Paris.")
        self.assertEqual(msg["tool_calls"], [{"id": "call_1", "type": "function",
                                              "function": {"name": "lookup", "arguments": '{"q":"x"}'}}])
        self.assertEqual(span["usage"], {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57,
                                         "prompt_tokens_details": {"cached_tokens": 0}})
        self.assertGreaterEqual(span["metrics"]["time_to_first_token"], 0)
        self.assertNotIn("stream", span.get("model_parameters", {}))
        self.assertEqual(span["metadata"]["finish_reason"], "tool_calls")

    def test_async_client_and_async_stream(self):
        client = spanvault.wrap_openai(fake_sdks.FakeOpenAI(is_async=True))

        async def main():
            with spanvault.start_span("root"):
                full = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
                text = ""
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        text += chunk.choices[0].delta.content
                return full, text

        full, text = asyncio.run(main())
        self.assertEqual((full.choices[0].message.content, text), ("Paris.", "Paris."))
        spans = self.spans("openai.chat.completions.create")
        self.assertEqual(len(spans), 2)
        root = self.rec.by_name("root")
        self.assertEqual({s["parent_span_id"] for s in spans}, {root["span_id"]})
        self.assertEqual(sorted(s["output"][0]["content"] for s in spans), ["Paris.", "Paris."])
        self.assertEqual(sum("time_to_first_token" in s.get("metrics", {}) for s in spans), 1)

    def test_responses_api_usage_is_mapped_to_canonical_keys(self):
        client = spanvault.wrap_openai(fake_sdks.FakeOpenAI())
        client.responses.create(model="gpt-5-mini", input="Capital of France?", instructions="Be brief.")
        for _ in client.responses.create(model="gpt-5-mini", input="again", stream=True):
            pass
        full, streamed = self.spans("openai.responses.create")
        for span in (full, streamed):
            self.assertEqual(span["usage"], {"input_tokens": 300, "output_tokens": 40, "total_tokens": 340,
                                             "cache_read_tokens": 128, "reasoning_tokens": 16})
            self.assertEqual(span["output"][0]["content"][0]["text"], "Paris.")
        self.assertEqual(full["input"], {"instructions": "Be brief.", "input": "Capital of France?"})
        self.assertIn("time_to_first_token", streamed["metrics"])

    def test_embeddings_record_counts_not_vectors(self):
        client = spanvault.wrap_openai(fake_sdks.FakeOpenAI())
        client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        span, = self.spans("openai.embeddings.create")
        self.assertEqual(span["type"], "embedding")
        self.assertEqual(span["output"], {"embeddings": 2, "dimensions": 8})
        self.assertEqual(span["usage"], {"prompt_tokens": 6, "total_tokens": 6})

    def test_an_api_error_is_recorded_and_reraised(self):
        client = spanvault.wrap_openai(fake_sdks.FakeOpenAI())
        with self.assertRaises(fake_sdks.APIError):
            client.chat.completions.create(model="bad-model", messages=MESSAGES)
        span, = self.spans("openai.chat.completions.create")
        self.assertEqual(span["error"]["type"], "APIError")
        self.assertIn("bad-model", span["error"]["message"])
        self.assertEqual(span["metadata"]["http_status"], 404)

    def test_a_library_failure_is_counted_and_the_app_gets_its_stream(self):
        class OddChunk:
            @property
            def choices(self):
                raise RuntimeError("an SDK shape the wrapper does not know")

        raw = fake_sdks.FakeOpenAI()
        raw.chat.completions.create = lambda **kw: fake_sdks.Stream([OddChunk(), OddChunk()])
        client = spanvault.wrap_openai(raw)
        got = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
        self.assertEqual(len(got), 2)  # the app's stream is untouched
        span, = self.spans("openai.chat.completions.create")
        self.assertEqual(span["model"], "gpt-4o")
        s = spanvault.stats()
        self.assertEqual(s["internal_errors"], 2)
        self.assertIn("an SDK shape the wrapper does not know", s["last_internal_error"])

    def test_everything_else_passes_through(self):
        raw = fake_sdks.FakeOpenAI()
        client = spanvault.wrap_openai(raw)
        self.assertEqual(client.api_key, "sk-test")
        self.assertEqual(client.models.list(), ["m1"])
        self.assertIs(spanvault.wrap_openai(client), client)
        client.with_options(timeout=5).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        self.assertEqual(len(self.spans("openai.chat.completions.create")), 1)

    def test_anthropic_messages_with_cache_tokens_and_a_stream(self):
        client = spanvault.wrap_anthropic(fake_sdks.FakeAnthropic())
        out = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, system="Be brief.",
                                     messages=[{"role": "user", "content": "Hello in French"}])
        self.assertEqual(out.content[0].text, "Bonjour.")
        for _ in client.messages.create(model="claude-sonnet-4-5", max_tokens=100, stream=True,
                                        messages=[{"role": "user", "content": "Hello in French"}]):
            pass
        full, streamed = self.spans("anthropic.messages.create")
        self.assertEqual((full["provider"], full["type"]), ("anthropic", "generation"))
        self.assertEqual(full["input"], {"system": "Be brief.",
                                         "messages": [{"role": "user", "content": "Hello in French"}]})
        self.assertEqual(full["output"], {"role": "assistant", "content": [{"type": "text", "text": "Bonjour."}]})
        self.assertEqual(full["usage"], {"input_tokens": 100, "output_tokens": 12, "cache_read_input_tokens": 900,
                                         "cache_creation_input_tokens": 0})
        self.assertEqual(full["model_parameters"], {"max_tokens": 100})
        self.assertEqual(streamed["output"]["content"],
                         [{"type": "text", "text": "Bonjour."},
                          {"type": "tool_use", "id": "tu_1", "name": "get", "input": {"city": "Paris"}}])
        self.assertEqual(streamed["usage"], {"input_tokens": 100, "output_tokens": 15, "cache_read_input_tokens": 900})
        self.assertEqual(streamed["metadata"]["stop_reason"], "tool_use")
        self.assertIn("time_to_first_token", streamed["metrics"])

    def test_async_anthropic(self):
        client = spanvault.wrap_anthropic(fake_sdks.FakeAnthropic(is_async=True))

        async def main():
            msg = await client.messages.create(model="claude-haiku-4-5", max_tokens=10,
                                               messages=[{"role": "user", "content": "hi"}])
            stream = await client.messages.create(model="claude-haiku-4-5", max_tokens=10, stream=True,
                                                  messages=[{"role": "user", "content": "hi"}])
            async for _ in stream:
                pass
            return msg

        self.assertEqual(asyncio.run(main()).content[0].text, "Bonjour.")
        self.assertEqual(len(self.spans("anthropic.messages.create")), 2)


if __name__ == "__main__":
    unittest.main()
