"""The HTTP clients against httpx.MockTransport: request shapes, retries, and the key kept secret."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from services.proposer.llm.client import RESPONSE_MAX_BYTES, LLMError, LLMUnavailable, Message, RetryPolicy
from services.proposer.llm.config import LLMSettings
from services.proposer.llm.providers import AnthropicMessages, OpenAIChat, make_chat_client

KEY = "sk-test-0123456789abcdef"
OPENAI_OK = {"model": "gpt-x-2025", "choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 11, "completion_tokens": 7}}
ANTHROPIC_OK = {"model": "claude-x", "content": [{"type": "text", "text": "{"}, {"type": "text", "text": "}"}],
                "stop_reason": "end_turn", "usage": {"input_tokens": 13, "output_tokens": 5}}


class Script:
    """A MockTransport handler that plays responses in order and keeps the requests."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses, self.requests = list(responses), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response


class FakeSleep:
    """Records the delays instead of waiting them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def client(cls, script: Script, sleep: FakeSleep | None = None, key: str | None = KEY, attempts: int = 4):
    http = httpx.AsyncClient(transport=httpx.MockTransport(script))
    policy = RetryPolicy(max_attempts=attempts, backoff_s=1.0, backoff_max_s=8.0, retry_after_max_s=60.0)
    return cls(base_url="https://llm.test/v1/", model="m1", api_key=SecretStr(key) if key else None, http=http,
               policy=policy, max_output_tokens=512, sleep=sleep or FakeSleep())


async def test_openai_request_shape_and_answer():
    script = Script(httpx.Response(200, json={**OPENAI_OK, "choices": [{"message": {"content": "hi"}, "finish_reason": "length"}]}))
    completion = await client(OpenAIChat, script).complete("persona", [Message("user", "propose")])
    request = script.requests[0]
    assert (request.method, str(request.url)) == ("POST", "https://llm.test/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(request.content) == {
        "model": "m1", "max_tokens": 512,
        "messages": [{"role": "system", "content": "persona"}, {"role": "user", "content": "propose"}],
    }
    assert (completion.text, completion.model, completion.input_tokens, completion.output_tokens) == ("hi", "gpt-x-2025", 11, 7)
    assert completion.truncated


async def test_anthropic_request_shape_and_answer():
    script = Script(httpx.Response(200, json=ANTHROPIC_OK))
    completion = await client(AnthropicMessages, script).complete("persona", [Message("user", "propose")])
    request = script.requests[0]
    assert str(request.url) == "https://llm.test/v1/v1/messages"
    assert request.headers["x-api-key"] == KEY and "authorization" not in request.headers
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert json.loads(request.content) == {
        "model": "m1", "system": "persona", "max_tokens": 512, "messages": [{"role": "user", "content": "propose"}],
    }
    assert (completion.text, completion.input_tokens, completion.output_tokens) == ("{}", 13, 5)
    assert not completion.truncated


async def test_retries_honour_retry_after_then_back_off():
    sleep = FakeSleep()
    script = Script(
        httpx.Response(429, headers={"retry-after": "7"}), httpx.Response(503),
        httpx.ConnectError("connection refused"), httpx.Response(200, json=OPENAI_OK),
    )
    completion = await client(OpenAIChat, script, sleep).complete("s", [Message("user", "u")])
    assert completion.text == "{}"
    assert len(script.requests) == 4
    assert sleep.delays[0] == 7
    assert 1.6 <= sleep.delays[1] <= 2.0 and 3.2 <= sleep.delays[2] <= 4.0  # doubling per attempt, with jitter


async def test_retry_after_in_milliseconds_is_understood():
    sleep = FakeSleep()
    script = Script(httpx.Response(429, headers={"retry-after-ms": "250"}), httpx.Response(200, json=OPENAI_OK))
    await client(OpenAIChat, script, sleep).complete("s", [Message("user", "u")])
    assert sleep.delays == [0.25]


async def test_bound_on_attempts_raises_unavailable():
    sleep = FakeSleep()
    script = Script(*(httpx.Response(500) for _ in range(3)))
    with pytest.raises(LLMUnavailable, match="failed 3 times; last: HTTP 500"):
        await client(OpenAIChat, script, sleep, attempts=3).complete("s", [Message("user", "u")])
    assert len(script.requests) == 3 and len(sleep.delays) == 2


async def test_retry_after_beyond_patience_gives_up_at_once():
    script = Script(httpx.Response(429, headers={"retry-after": "3600"}))
    with pytest.raises(LLMUnavailable, match="asked to wait 3600s"):
        await client(AnthropicMessages, script).complete("s", [Message("user", "u")])
    assert len(script.requests) == 1


async def test_client_errors_are_not_retried_and_never_echo_the_key():
    script = Script(httpx.Response(401, json={"error": f"Incorrect API key provided: {KEY}"}))
    with pytest.raises(LLMError) as caught:
        await client(OpenAIChat, script).complete("s", [Message("user", "u")])
    assert "HTTP 401" in str(caught.value) and KEY not in str(caught.value)
    assert len(script.requests) == 1


async def test_max_completion_tokens_is_used_when_the_server_asks_for_it():
    refusal = {"error": {"message": "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead."}}
    script = Script(httpx.Response(400, json=refusal), httpx.Response(200, json=OPENAI_OK))
    await client(OpenAIChat, script).complete("s", [Message("user", "u")])
    body = json.loads(script.requests[1].content)
    assert body["max_completion_tokens"] == 512 and "max_tokens" not in body


async def test_local_server_without_key_gets_no_authorization_header():
    script = Script(httpx.Response(200, json=OPENAI_OK))
    await client(OpenAIChat, script, key=None).complete("s", [Message("user", "u")])
    assert "authorization" not in script.requests[0].headers


def test_settings_pick_the_provider_and_keep_the_key_out_of_reprs():
    settings = LLMSettings(llm_provider="anthropic", llm_model="claude-x", ANTHROPIC_API_KEY=KEY)
    chat = make_chat_client(settings)
    assert isinstance(chat, AnthropicMessages) and chat.base_url == "https://api.anthropic.com"
    assert KEY not in repr(chat) and KEY not in repr(settings) and KEY not in str(settings.model_dump())


class EndlessBody(httpx.AsyncByteStream):
    """A body of megabyte chunks that would go on for 64 MiB, counting what was read of it."""

    def __init__(self) -> None:
        self.chunks_read = 0

    async def __aiter__(self):
        yield b'{"choices": [{"message": {"content": "'
        for _ in range(64):
            self.chunks_read += 1
            yield b"x" * 1024 * 1024


async def test_an_answer_body_is_read_no_further_than_the_limit():
    body = EndlessBody()
    script = Script(httpx.Response(200, stream=body))
    with pytest.raises(LLMError, match=f"body over {RESPONSE_MAX_BYTES} bytes; it was not read further"):
        await client(OpenAIChat, script).complete("s", [Message("user", "u")])
    assert body.chunks_read <= RESPONSE_MAX_BYTES // (1024 * 1024) + 1
    assert len(script.requests) == 1  # not asked again: another answer of that kind would cost as much


async def test_a_body_declared_over_the_limit_is_refused_unread():
    body = EndlessBody()
    declared = httpx.Response(200, headers={"content-length": str(RESPONSE_MAX_BYTES + 1)}, stream=body)
    with pytest.raises(LLMError, match="not read further"):
        await client(AnthropicMessages, Script(declared)).complete("s", [Message("user", "u")])
    assert body.chunks_read == 0


async def test_a_json_answer_that_is_not_an_object_is_retried_then_unavailable():
    script = Script(*(httpx.Response(200, json=["not", "an", "object"]) for _ in range(2)))
    with pytest.raises(LLMUnavailable, match="last: the answer was not a JSON object"):
        await client(AnthropicMessages, script, attempts=2).complete("s", [Message("user", "u")])
