"""Objects shaped like the official openai and anthropic SDKs (pydantic models with
``model_dump``, Stream/AsyncStream iterators, APIError with ``status_code``),
answering from canned data, so that the wrappers are tested without the packages."""

import asyncio


class Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def model_dump(self, exclude_none=False):
        def plain(v):
            if isinstance(v, Obj):
                return v.model_dump(exclude_none)
            if isinstance(v, list):
                return [plain(x) for x in v]
            return v

        return {k: plain(v) for k, v in self.__dict__.items() if not (exclude_none and v is None)}


class APIError(Exception):
    def __init__(self, message, status_code):
        super().__init__(message)
        self.status_code = status_code


class Stream:
    def __init__(self, items):
        self._items = list(items)
        self.closed = False
        self.response = Obj(status_code=200)

    def __iter__(self):
        for item in self._items:
            if isinstance(item, Exception):
                raise item
            yield item

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.closed = True


class AsyncStream:
    def __init__(self, items):
        self._items = list(items)

    async def __aiter__(self):
        for item in self._items:
            await asyncio.sleep(0)
            yield item


def chat_completion(model):
    return Obj(id="chatcmpl-1", object="chat.completion", model=model,
               choices=[Obj(index=0, finish_reason="stop",
                            message=Obj(role="assistant", content="Paris.", tool_calls=None))],
               usage=Obj(prompt_tokens=812, completion_tokens=20, total_tokens=832,
                         prompt_tokens_details=Obj(cached_tokens=512, audio_tokens=0),
                         completion_tokens_details=Obj(reasoning_tokens=8, audio_tokens=0)))


def Delta(**kw):
    fields = {"role": None, "content": None, "tool_calls": None}
    fields.update(kw)
    return Obj(**fields)


def chat_chunks(model):
    def chunk(delta, finish=None, usage=None, choices=True):
        return Obj(id="c", model=model, usage=usage,
                   choices=[Obj(index=0, delta=delta, finish_reason=finish)] if choices else [])

    return [
        chunk(Delta(role="assistant", content="")),
        chunk(Delta(content="Par")),
        chunk(Delta(content="is.")),
        chunk(Delta(tool_calls=[Obj(index=0, id="call_1", function=Obj(name="lookup", arguments='{"q":'))])),
        chunk(Delta(tool_calls=[Obj(index=0, id=None, function=Obj(name=None, arguments='"x"}'))])),
        chunk(Delta(), finish="tool_calls"),
        chunk(None, usage=Obj(prompt_tokens=50, completion_tokens=7, total_tokens=57,
                              prompt_tokens_details=Obj(cached_tokens=0)), choices=False),
    ]


def response(model):
    return Obj(id="resp_1", model=model, status="completed",
               output=[Obj(type="message", role="assistant", content=[Obj(type="output_text", text="Paris.")])],
               usage=Obj(input_tokens=300, output_tokens=40, total_tokens=340,
                         input_tokens_details=Obj(cached_tokens=128),
                         output_tokens_details=Obj(reasoning_tokens=16)))


def response_events(model):
    return [Obj(type="response.created", response=Obj(id="resp_1")),
            Obj(type="response.output_text.delta", delta="Par"),
            Obj(type="response.output_text.delta", delta="is."),
            Obj(type="response.completed", response=response(model))]


class _Create:
    def __init__(self, answer, stream_answer, is_async):
        self.answer, self.stream_answer, self.is_async = answer, stream_answer, is_async
        self.calls = []

    def make(self):
        def create(**kw):
            self.calls.append(kw)
            if kw.get("model") == "bad-model":
                raise APIError("The model `bad-model` does not exist", 404)
            if kw.get("stream"):
                return (AsyncStream if self.is_async else Stream)(self.stream_answer(kw["model"]))
            return self.answer(kw["model"])

        if not self.is_async:
            return create

        async def acreate(**kw):
            await asyncio.sleep(0)
            return create(**kw)

        return acreate


class FakeOpenAI:
    def __init__(self, is_async=False):
        self.api_key = "sk-test"
        self.chat = Obj(completions=Obj(create=_Create(chat_completion, chat_chunks, is_async).make()))
        self.responses = Obj(create=_Create(response, response_events, is_async).make())
        self.embeddings = Obj(create=_Create(
            lambda m: Obj(model=m, data=[Obj(embedding=[0.1] * 8), Obj(embedding=[0.2] * 8)],
                          usage=Obj(prompt_tokens=6, total_tokens=6)), None, is_async).make())
        self.models = Obj(list=lambda: ["m1"])

    def with_options(self, **kw):
        return self


def message(model):
    return Obj(id="msg_1", type="message", role="assistant", model=model, stop_reason="end_turn",
               content=[Obj(type="text", text="Bonjour.")],
               usage=Obj(input_tokens=100, output_tokens=12, cache_read_input_tokens=900,
                         cache_creation_input_tokens=0, service_tier="standard"))


def message_events(model):
    return [
        Obj(type="message_start", message=Obj(model=model, usage=Obj(input_tokens=100, output_tokens=1,
                                                                     cache_read_input_tokens=900))),
        Obj(type="content_block_start", index=0, content_block=Obj(type="text", text="")),
        Obj(type="content_block_delta", index=0, delta=Obj(type="text_delta", text="Bon")),
        Obj(type="content_block_delta", index=0, delta=Obj(type="text_delta", text="jour.")),
        Obj(type="content_block_stop", index=0),
        Obj(type="content_block_start", index=1, content_block=Obj(type="tool_use", id="tu_1", name="get", input={})),
        Obj(type="content_block_delta", index=1, delta=Obj(type="input_json_delta", partial_json='{"city": ')),
        Obj(type="content_block_delta", index=1, delta=Obj(type="input_json_delta", partial_json='"Paris"}')),
        Obj(type="message_delta", delta=Obj(stop_reason="tool_use"), usage=Obj(output_tokens=15)),
        Obj(type="message_stop"),
    ]


class FakeAnthropic:
    def __init__(self, is_async=False):
        self.messages = Obj(create=_Create(message, message_events, is_async).make())
