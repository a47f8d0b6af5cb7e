"""The language-model client seen by the researcher, and the patient HTTP exchange under it."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal, Protocol

import httpx
import structlog

log = structlog.get_logger("proposer.llm")
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
# The most of one response body ever held: an answer at its limit (ANSWER_MAX characters), escaped again as a
# JSON string, inside the provider's envelope. An error body is only ever quoted, so little of it is read.
RESPONSE_MAX_BYTES = 4 * 1024 * 1024
ERROR_BODY_BYTES = 4096


@dataclass(frozen=True)
class Message:
    """One turn of the conversation."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Completion:
    """The model's answer and what it cost."""

    text: str
    model: str
    input_tokens: int
    output_tokens: int
    latency_s: float
    truncated: bool = False


class ChatClient(Protocol):
    """A language model behind some endpoint."""

    model: str

    async def complete(self, system: str, messages: list[Message]) -> Completion:
        """One answer to the conversation so far."""
        ...


class LLMError(Exception):
    """The endpoint could not give an answer; the message never carries the key."""


class LLMUnavailable(LLMError):
    """The endpoint kept failing until the bound on attempts; try again later."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep asking one request: a bound on attempts and exponential backoff."""

    max_attempts: int = 6
    backoff_s: float = 2.0
    backoff_max_s: float = 60.0
    retry_after_max_s: float = 300.0

    def backoff(self, attempt: int) -> float:
        """Delay before retry number attempt (1-based): doubling, capped, with jitter against herds."""
        delay = min(self.backoff_s * 2 ** (attempt - 1), self.backoff_max_s)
        return delay * random.uniform(0.8, 1.0)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait (Retry-After or retry-after-ms), if it said."""
    if (millis := response.headers.get("retry-after-ms")) is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def redact(text: str, secret: str | None) -> str:
    """Text with the secret blotted out, for error bodies that echo what they were sent."""
    return text.replace(secret, "[redacted]") if secret else text


Sleep = Callable[[float], Awaitable[None]]


async def read_bounded(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to limit bytes of the body, and whether that was all of it; reading stops at the limit."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return b"", False  # said to be too long: not a byte of it is read
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], False
    return b"".join(chunks), True


def _json_object(body: bytes) -> dict:
    """The body as a JSON object, or ValueError."""
    try:
        value = json.loads(body)
    except RecursionError:  # nesting deeper than the decoder goes
        raise ValueError("nested too deeply") from None
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


async def post_with_retries(
    http: httpx.AsyncClient, url: str, *, headers: dict[str, str], body: dict, policy: RetryPolicy,
    secret: str | None = None, sleep: Sleep = asyncio.sleep, max_bytes: int = RESPONSE_MAX_BYTES,
) -> tuple[dict, float]:
    """POST JSON until a 2xx answer (returned with its latency), retrying what a wait can cure."""
    problem = ""
    for attempt in range(1, policy.max_attempts + 1):
        started = time.monotonic()
        wait: float | None = None
        try:
            async with http.stream("POST", url, headers=headers, json=body) as response:
                content, whole = await read_bounded(response, max_bytes if response.is_success else ERROR_BODY_BYTES)
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {redact(str(exc), secret)}"
        else:
            if response.is_success:
                if not whole:
                    # Asking again would only pay for another answer of the same kind; the ticket waits instead.
                    raise LLMError(f"{url} answered with a body over {max_bytes} bytes; it was not read further")
                try:
                    return _json_object(content), time.monotonic() - started
                except ValueError:
                    problem = "the answer was not a JSON object"
            elif response.status_code in RETRY_STATUSES:
                problem, wait = f"HTTP {response.status_code}", retry_after(response)
                if wait is not None and wait > policy.retry_after_max_s:
                    raise LLMUnavailable(f"{url} asked to wait {wait:.0f}s (HTTP {response.status_code}); the ticket waits instead")
            else:
                detail = redact(content.decode("utf-8", "replace"), secret)[:500]  # blotted out before cutting
                raise LLMError(f"{url} refused the request: HTTP {response.status_code}: {detail}")
        if attempt == policy.max_attempts:
            break
        delay = wait if wait is not None else policy.backoff(attempt)
        log.warning("llm request failed, retrying", url=url, problem=problem, attempt=attempt, delay_s=round(delay, 2))
        await sleep(delay)
    raise LLMUnavailable(f"{url} failed {policy.max_attempts} times; last: {problem}")
