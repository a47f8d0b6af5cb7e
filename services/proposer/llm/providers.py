"""The two wire formats: OpenAI-compatible Chat Completions and the Anthropic Messages API."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from services.proposer.llm.client import Completion, LLMError, Message, RetryPolicy, Sleep, post_with_retries
from services.proposer.llm.config import LLMSettings

ANTHROPIC_VERSION = "2023-06-01"


class _HttpChat:
    """What both providers share: the httpx client, the key, the retry policy."""

    def __init__(
        self, *, base_url: str, model: str, api_key: SecretStr | None, http: httpx.AsyncClient,
        policy: RetryPolicy | None = None, max_output_tokens: int = 8192, temperature: float | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.base_url, self.model, self._key, self._http = base_url.rstrip("/"), model, api_key, http
        self.policy, self.max_output_tokens, self.temperature = policy or RetryPolicy(), max_output_tokens, temperature
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, model={self.model!r})"

    @property
    def _secret(self) -> str | None:
        return self._key.get_secret_value() if self._key else None

    async def _post(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[dict, float]:
        extra = {"sleep": self._sleep} if self._sleep else {}
        return await post_with_retries(
            self._http, self.base_url + path, headers=headers, body=body, policy=self.policy, secret=self._secret, **extra,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


class OpenAIChat(_HttpChat):
    """POST {base_url}/chat/completions: OpenAI, vLLM, Ollama, llama.cpp, OpenRouter and the like."""

    token_field = "max_tokens"

    async def complete(self, system: str, messages: list[Message]) -> Completion:
        """One answer from a Chat Completions endpoint."""
        headers = {"authorization": f"Bearer {self._secret}"} if self._key else {}
        chat = [{"role": "system", "content": system}, *({"role": m.role, "content": m.content} for m in messages)]
        body: dict[str, Any] = {"model": self.model, "messages": chat, self.token_field: self.max_output_tokens}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        try:
            data, latency = await self._post("/chat/completions", headers, body)
        except LLMError as exc:
            # Newer OpenAI models refuse max_tokens and name its successor; switch once and ask again.
            if self.token_field != "max_tokens" or "max_completion_tokens" not in str(exc):
                raise
            self.token_field = "max_completion_tokens"
            body["max_completion_tokens"] = body.pop("max_tokens")
            data, latency = await self._post("/chat/completions", headers, body)
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise LLMError(f"unexpected Chat Completions answer: {str(data)[:300]}") from None
        usage = data.get("usage") or {}
        return Completion(
            text=text, model=data.get("model") or self.model, input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0), latency_s=latency,
            truncated=choice.get("finish_reason") == "length",
        )


class AnthropicMessages(_HttpChat):
    """POST {base_url}/v1/messages with x-api-key and anthropic-version."""

    async def complete(self, system: str, messages: list[Message]) -> Completion:
        """One answer from the Messages API."""
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if self._key:
            headers["x-api-key"] = self._secret or ""
        body: dict[str, Any] = {
            "model": self.model, "system": system, "max_tokens": self.max_output_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if self.temperature is not None:
            body["temperature"] = self.temperature
        data, latency = await self._post("/v1/messages", headers, body)
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise LLMError(f"unexpected Messages answer: {str(data)[:300]}")
        usage = data.get("usage") or {}
        return Completion(
            text="".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"),
            model=data.get("model") or self.model, input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0), latency_s=latency,
            truncated=data.get("stop_reason") == "max_tokens",
        )


def make_chat_client(settings: LLMSettings, transport: httpx.AsyncBaseTransport | None = None) -> OpenAIChat | AnthropicMessages:
    """The client for the configured provider, with its timeouts and retry policy."""
    timeout = httpx.Timeout(settings.llm_read_timeout, connect=settings.llm_connect_timeout)
    http = httpx.AsyncClient(timeout=timeout, transport=transport)
    policy = RetryPolicy(
        max_attempts=settings.llm_max_attempts, backoff_s=settings.llm_backoff_s,
        backoff_max_s=settings.llm_backoff_max_s, retry_after_max_s=settings.llm_retry_after_max_s,
    )
    cls = AnthropicMessages if settings.llm_provider == "anthropic" else OpenAIChat
    return cls(
        base_url=settings.llm_endpoint, model=settings.llm_model or "", api_key=settings.llm_api_key, http=http,
        policy=policy, max_output_tokens=settings.llm_max_output_tokens, temperature=settings.llm_temperature,
    )
